import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Actor } from './records.ts';
import { SnError } from './records.ts';
import type { SnContext } from './routes.ts';
import { DEMO } from './seed.ts';
import type { Row } from './store.ts';
import { TABLES } from './tables.ts';

/**
 * The agent's web page: where a person plays "IT support" in the demo. Plain server-rendered
 * HTML. Every change goes through Records (same business rules, data policy and webhooks as the
 * Table API), acting as the demo agent david.miller — deliberately not an API credential's user.
 */
const UI_TABLES = ['incident', 'sc_req_item', 'sc_task', 'change_request', 'problem'];

/** Close-out actions per table: target state, and which field holds the code. */
const ACTIONS: Record<string, { label: string; state: string }[]> = {
  incident: [
    { label: 'Resolve', state: '6' },
    { label: 'Close', state: '7' },
    { label: 'Cancel', state: '8' },
  ],
  change_request: [
    { label: 'Close', state: '3' },
    { label: 'Cancel', state: '4' },
  ],
  problem: [
    { label: 'Resolve', state: '106' },
    { label: 'Close', state: '107' },
  ],
  sc_req_item: [
    { label: 'Close Complete', state: '3' },
    { label: 'Close Incomplete', state: '4' },
    { label: 'Close Skipped', state: '7' },
  ],
  sc_task: [
    { label: 'Close Complete', state: '3' },
    { label: 'Close Incomplete', state: '4' },
    { label: 'Close Skipped', state: '7' },
  ],
};
const CODE_FIELD: Record<string, string | undefined> = {
  incident: 'close_code',
  change_request: 'close_code',
  problem: 'resolution_code',
};

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
header{background:#293e40;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#fff;text-decoration:none}header .who{margin-left:auto;opacity:.8}
main{padding:16px 20px;max-width:1100px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #dde3e8;padding:6px 8px;text-align:left;vertical-align:top}th{background:#eef1f4}
nav a{margin-right:12px}nav a.on{font-weight:bold}.card{background:#fff;padding:12px 16px;margin:12px 0;border:1px solid #dde3e8}
.err{background:#fde8e8;border:1px solid #e0a0a0;padding:8px 12px;margin:12px 0}.ok{background:#e6f4ea;border:1px solid #9cc9a8;padding:8px 12px;margin:12px 0}
dl{display:grid;grid-template-columns:180px 1fr;gap:4px 12px}dt{color:#566}dd{margin:0}
textarea{width:100%;min-height:60px}pre{white-space:pre-wrap;margin:0}label{display:block;margin:6px 0 2px}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} | ServiceNow sandbox</title><style>${CSS}</style></head>
<body><header><a href="/ui"><strong>ServiceNow sandbox</strong></a><span>${esc(title)}</span><span class="who">Signed in as ${esc(DEMO.agent.username)}</span></header><main>${body}</main></body></html>`;
}

export function registerUi(app: FastifyInstance, ctx: SnContext): void {
  const agent = (): Actor =>
    ctx.auth.actorFor(DEMO.agent.username) ?? { userName: DEMO.agent.username, sysId: '', roles: ['itil'] };
  const disp = (table: string, row: Row, field: string) => ctx.fmt.display(table, row, field);
  const html = (reply: FastifyReply, s: string, code = 200) =>
    reply.code(code).type('text/html; charset=utf-8').send(s);

  app.get('/', async (_req, reply) => reply.redirect('/ui'));

  app.get('/ui', async (req, reply) => {
    const q = req.query as { table?: string; q?: string; active?: string };
    const table = UI_TABLES.includes(q.table ?? '') ? q.table! : 'incident';
    const text = (q.q ?? '').toLowerCase();
    const onlyActive = q.active !== 'all';
    const rows = ctx.store
      .rows(table)
      .filter(
        (r) =>
          (!onlyActive || r.active === 'true') &&
          (!text || `${r.number} ${r.short_description} ${r.correlation_id}`.toLowerCase().includes(text)),
      )
      .slice(-200)
      .reverse();
    const tabs = UI_TABLES.map(
      (t) => `<a class="${t === table ? 'on' : ''}" href="/ui?table=${t}">${esc(TABLES[t].label)}</a>`,
    ).join('');
    const trs = rows
      .map(
        (
          r,
        ) => `<tr><td><a href="/ui/${table}/${r.sys_id}">${esc(r.number)}</a></td><td>${esc(r.short_description)}</td><td>${esc(disp(table, r, 'state'))}</td>
<td>${esc(disp(table, r, 'priority'))}</td><td>${esc(disp(table, r, 'assigned_to'))}</td><td>${esc(r.correlation_id)}</td><td>${esc(r.sys_updated_on)}</td></tr>`,
      )
      .join('');
    return html(
      reply,
      page(
        TABLES[table].label,
        `<nav>${tabs}</nav>
<form method="get" action="/ui" class="card"><input type="hidden" name="table" value="${table}">
<input name="q" placeholder="Search number, description, correlation id" value="${esc(q.q ?? '')}" size="40">
<label style="display:inline"><input type="checkbox" name="active" value="all" ${onlyActive ? '' : 'checked'}> include closed</label>
<button>Filter</button></form>
<table id="tickets"><thead><tr><th>Number</th><th>Short description</th><th>State</th><th>Priority</th><th>Assigned to</th><th>Correlation ID</th><th>Updated</th></tr></thead>
<tbody>${trs || '<tr><td colspan="7">No records</td></tr>'}</tbody></table>`,
      ),
    );
  });

  // A real instance's record URLs — `/nav_to.do?uri=incident.do%3Fsys_id%3D…` (the link Ticketloop writes
  // into Defender) and `/incident.do?sys_id=…` — open the record's page here (a real instance would
  // first send a signed-out visitor to its login page; the sandbox's agent is always signed in).
  const recordPage = (reply: FastifyReply, table: string, sysId: string | undefined) =>
    UI_TABLES.includes(table) && sysId && /^[0-9a-f]{32}$/.test(sysId)
      ? reply.redirect(`/ui/${table}/${sysId}`)
      : html(reply, page('Not found', '<p>No such record.</p><p><a href="/ui">Back</a></p>'), 404);
  app.get('/nav_to.do', async (req, reply) => {
    const uri = /^\/?([a-z_][a-z0-9_]*)\.do\?(.*)$/.exec((req.query as { uri?: string }).uri ?? '');
    if (!uri) return reply.redirect('/ui');
    return recordPage(reply, uri[1], new URLSearchParams(uri[2]).get('sys_id') ?? undefined);
  });
  for (const table of UI_TABLES)
    app.get(`/${table}.do`, async (req, reply) => recordPage(reply, table, (req.query as { sys_id?: string }).sys_id));

  app.get('/ui/:table/:sysId', async (req, reply) => {
    const { table, sysId } = req.params as { table: string; sysId: string };
    const q = req.query as { error?: string; ok?: string };
    const row = UI_TABLES.includes(table) ? ctx.store.get(table, sysId) : undefined;
    if (!row) return html(reply, page('Not found', '<p>No such record.</p><p><a href="/ui">Back</a></p>'), 404);
    const def = TABLES[table];
    const shown = Object.keys(def.fields).filter(
      (f) => def.fields[f].type !== 'journal' && !['sys_domain', 'sys_domain_path', 'sys_tags'].includes(f),
    );
    const dl = shown
      .map((f) => `<dt>${esc(def.fields[f].label)}</dt><dd data-field="${f}">${esc(disp(table, row, f))}</dd>`)
      .join('');
    const journal = ctx.store
      .journal(sysId)
      .slice()
      .reverse()
      .map(
        (j) =>
          `<li class="journal"><strong>${esc(j.sys_created_on)} — ${esc(j.sys_created_by)} (${j.element === 'work_notes' ? 'Work notes' : 'Additional comments'})</strong><pre>${esc(j.value)}</pre></li>`,
      )
      .join('');
    const codeField = CODE_FIELD[table];
    const codes = codeField
      ? ctx.store.rows('sys_choice').filter((c) => c.name === table && c.element === codeField && c.inactive !== 'true')
      : [];
    const actions = (ACTIONS[table] ?? [])
      .map((a) => `<button name="state" value="${a.state}">${esc(a.label)}</button>`)
      .join(' ');
    const closeForm =
      row.active === 'true' || def.states?.resolved.includes(row.state)
        ? `<form method="post" action="/ui/${table}/${sysId}/close" class="card" id="close-form"><h3>Close out</h3>
${codeField ? `<label for="code">${esc(def.fields[codeField].label)}</label><select id="code" name="code"><option value="">-- choose --</option>${codes.map((c) => `<option value="${esc(c.value)}">${esc(c.label)}</option>`).join('')}</select>` : ''}
<label for="notes">${table === 'problem' ? 'Fix notes' : 'Resolution notes'}</label><textarea id="notes" name="notes"></textarea><p>${actions}</p></form>`
        : '';
    return html(
      reply,
      page(
        row.number,
        `<p><a href="/ui?table=${table}">← ${esc(def.label)} list</a></p>
${q.error ? `<div class="err" role="alert">${esc(q.error)}</div>` : ''}${q.ok ? `<div class="ok">${esc(q.ok)}</div>` : ''}
<div class="card"><h2>${esc(row.number)}: ${esc(row.short_description)}</h2><dl>${dl}</dl></div>
<form method="post" action="/ui/${table}/${sysId}/note" class="card" id="note-form"><h3>Add a note</h3>
<label for="note">Text</label><textarea id="note" name="text"></textarea>
<label><input type="radio" name="kind" value="work_notes" checked> Work note (internal)</label>
<label><input type="radio" name="kind" value="comments"> Additional comment (customer visible)</label>
<p><button>Post</button></p></form>
<div class="card"><h3>Activity</h3><ul id="journal">${journal || '<li>No notes yet.</li>'}</ul></div>
${closeForm}`,
      ),
    );
  });

  /** Apply a change as the agent; redirect back with the rule error (e.g. data policy) if any. */
  const change = (reply: FastifyReply, table: string, sysId: string, input: Record<string, unknown>, ok: string) => {
    try {
      ctx.records.update(table, sysId, input, agent());
      return reply.redirect(`/ui/${table}/${sysId}?ok=${encodeURIComponent(ok)}`, 303);
    } catch (err) {
      if (!(err instanceof SnError)) throw err;
      return reply.redirect(
        `/ui/${table}/${sysId}?error=${encodeURIComponent(`${err.message}: ${err.detail ?? ''}`)}`,
        303,
      );
    }
  };

  app.post('/ui/:table/:sysId/note', async (req, reply) => {
    const { table, sysId } = req.params as { table: string; sysId: string };
    const b = (req.body ?? {}) as { text?: string; kind?: string };
    if (!UI_TABLES.includes(table)) return reply.code(404).send();
    if (!b.text?.trim())
      return reply.redirect(`/ui/${table}/${sysId}?error=${encodeURIComponent('Write a note first')}`, 303);
    return change(reply, table, sysId, { [b.kind === 'comments' ? 'comments' : 'work_notes']: b.text }, 'Note added');
  });

  app.post('/ui/:table/:sysId/close', async (req, reply) => {
    const { table, sysId } = req.params as { table: string; sysId: string };
    const b = (req.body ?? {}) as { state?: string; code?: string; notes?: string };
    if (!UI_TABLES.includes(table)) return reply.code(404).send();
    const input: Record<string, unknown> = { state: b.state };
    const codeField = CODE_FIELD[table];
    if (codeField && b.code) input[codeField] = b.code;
    if (b.notes) input[table === 'problem' ? 'fix_notes' : 'close_notes'] = b.notes;
    const label = ctx.fmt.choiceLabel(table, 'state', b.state ?? '') ?? b.state;
    return change(reply, table, sysId, input, `State set to ${label}`);
  });
}
