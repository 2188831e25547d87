ALTER TABLE `backups` ADD `archive_dir` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `backups` ADD `error_code` text;--> statement-breakpoint
ALTER TABLE `backups` ADD `file_list` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `backups` ADD `foreign_database` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `backups` ADD `protected` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `backups` ADD `imported_at` integer;