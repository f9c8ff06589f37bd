import { html, type SafeHtml } from './html.js';

export type Section = 'runs' | 'accounts' | 'queues' | 'metrics';

export interface PageOptions {
  title: string;
  section: Section;
  body: SafeHtml;
  readOnly: boolean;
  /** Server time, so the page's clocks (heartbeat ages) agree with Redis, not with the viewer's machine. */
  now: number;
  /** The run's event stream, on a run's page. */
  stream?: string;
}

/** The frame every board page shares: a top bar with the sections, then the page. */
export function layout({ title, section, body, readOnly, now, stream }: PageOptions): string {
  const link = (href: string, label: string, own: Section) => html`<a href="${href}" class="${section === own ? 'here' : ''}">${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · reins</title>
<link rel="stylesheet" href="/assets/board.css">
<script src="/assets/board.js" defer></script>
</head>
<body data-server-now="${now}" data-stream="${stream}">
<header class="top">
  <a class="brand" href="/runs">reins</a>
  <nav>${link('/runs', 'Runs', 'runs')}${link('/accounts', 'Accounts', 'accounts')}${link('/queues', 'Queues', 'queues')}${link('/metrics', 'Metrics', 'metrics')}</nav>
  ${readOnly ? html`<span class="flag" title="Bull Board's retry, clean and delete are off: REINS_BOARD_READ_ONLY is set, or the board has no REINS_BOARD_TOKEN or REINS_BOARD_USER">read-only</span>` : ''}
</header>
<main>
${body}
</main>
</body>
</html>
`.value;
}
