/** The BaluHost mark (a stack of drives) and the word mark beside it. */
export function LogoMark({ size = 28 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true" focusable="false" className="logo-mark">
      <rect width="32" height="32" rx="8" fill="var(--accent)" />
      <g fill="none" stroke="var(--on-accent)" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
        <path d="M8.5 11.5 10.6 7.6A2 2 0 0 1 12.3 6.6h7.4a2 2 0 0 1 1.7 1L23.5 11.5" />
        <rect x="7" y="11.5" width="18" height="7" rx="2" />
        <rect x="7" y="18.5" width="18" height="7" rx="2" />
        <path d="M11 15h.01M11 22h.01" />
      </g>
    </svg>
  );
}

export function Logo({ size = 28 }: { size?: number }) {
  return (
    <span className="logo">
      <LogoMark size={size} />
      <span className="logo-text">BaluHost</span>
    </span>
  );
}
