import { redirect } from "next/navigation";

/** /admin has no content of its own: the audit log is the first admin page. */
export default function AdminIndexPage(): never {
  redirect("/admin/audit");
}
