/**
 * Text handling for matching incidents to Microsoft 365 health issues: tokenising, a light stemmer,
 * stop words, a lexicon of what people type for each product, and symptom synonyms (what users say
 * versus what Microsoft writes: "not going out" ~ "unable to send").
 */

/** Canonical service names as Graph's `service` field spells them. */
export const SERVICES = {
  exchange: 'Exchange Online',
  teams: 'Microsoft Teams',
  sharepoint: 'SharePoint Online',
  onedrive: 'OneDrive for Business',
  skype: 'Skype for Business',
  suite: 'Microsoft 365 suite',
  forms: 'Microsoft Forms',
  defenderXdr: 'Microsoft Defender XDR',
  defenderCloudApps: 'Microsoft Defender for Cloud Apps',
  intune: 'Microsoft Intune',
  autopatch: 'Windows Autopatch',
  dynamics: 'Dynamics 365 Apps',
} as const;

/** Graph service names seen in the wild that mean one of the above. */
const SERVICE_ALIASES: Record<string, string> = {
  'office 365 portal': SERVICES.suite,
  'microsoft 365 portal': SERVICES.suite,
  onedrive: SERVICES.onedrive,
  'defender for identity': SERVICES.defenderXdr,
};

export function canonicalService(service: string): string {
  const s = service.trim().toLowerCase();
  for (const name of Object.values(SERVICES)) if (name.toLowerCase() === s) return name;
  for (const [alias, name] of Object.entries(SERVICE_ALIASES)) if (s.startsWith(alias)) return name;
  return service.trim();
}

/**
 * Nicknames (stemmed single tokens, or two-token phrases joined by a space) → the services they name.
 * A token naming the suite ("office", "365") only counts when nothing more specific is named.
 */
const NICKNAMES: Record<string, string[]> = {
  outlook: [SERVICES.exchange],
  outlok: [SERVICES.exchange],
  owa: [SERVICES.exchange],
  'outlook web': [SERVICES.exchange],
  webmail: [SERVICES.exchange],
  mail: [SERVICES.exchange],
  email: [SERVICES.exchange],
  inbox: [SERVICES.exchange],
  outbox: [SERVICES.exchange],
  mailbox: [SERVICES.exchange],
  exchange: [SERVICES.exchange],
  exo: [SERVICES.exchange],
  calendar: [SERVICES.exchange],
  'free busy': [SERVICES.exchange],
  freebusy: [SERVICES.exchange],
  archive: [SERVICES.exchange],
  quarantin: [SERVICES.exchange],
  teams: [SERVICES.teams],
  team: [SERVICES.teams],
  meet: [SERVICES.teams],
  call: [SERVICES.teams, SERVICES.skype],
  chat: [SERVICES.teams],
  presence: [SERVICES.teams],
  sharepoint: [SERVICES.sharepoint],
  spo: [SERVICES.sharepoint],
  intranet: [SERVICES.sharepoint],
  site: [SERVICES.sharepoint],
  'people picker': [SERVICES.sharepoint],
  onedrive: [SERVICES.onedrive],
  'one drive': [SERVICES.onedrive],
  odb: [SERVICES.onedrive],
  skype: [SERVICES.skype],
  sfb: [SERVICES.skype],
  lync: [SERVICES.skype],
  forms: [SERVICES.forms],
  form: [SERVICES.forms],
  survey: [SERVICES.forms],
  quiz: [SERVICES.forms],
  mdi: [SERVICES.defenderXdr],
  defender: [SERVICES.defenderXdr, SERVICES.defenderCloudApps],
  mde: [SERVICES.defenderXdr],
  mcas: [SERVICES.defenderCloudApps],
  'cloud app': [SERVICES.defenderCloudApps],
  intune: [SERVICES.intune],
  autopatch: [SERVICES.autopatch],
  dynamics: [SERVICES.dynamics],
  'power platform': [SERVICES.dynamics],
  office: [SERVICES.suite],
  o365: [SERVICES.suite],
  m365: [SERVICES.suite],
  '365': [SERVICES.suite],
  'admin center': [SERVICES.suite],
  portal: [SERVICES.suite],
  licens: [SERVICES.suite],
};

/**
 * Words that only name a product: they count for the service signal, not as symptom words (else
 * "outlook asks for my password" would share "outlook" with every Exchange outage).
 */
const PRODUCT_WORDS = new Set([
  ...'outlook outlok owa webmail mail email e exchange exo teams team sharepoint spo onedrive one drive odb'.split(' '),
  ...'skype sfb lync microsoft office o365 m365 365 mdi mde mcas defender intune autopatch dynamics'.split(' '),
  ...'servic service'.split(' '),
]);

/** Users' words → the word Microsoft writes for the same symptom (stemmed when loaded). */
const SYNONYM_WORDS: Record<string, string> = {
  sent: 'send',
  outgoing: 'send',
  out: 'send',
  outbox: 'send',
  recieve: 'receive',
  incoming: 'receive',
  arrive: 'receive',
  inbox: 'receive',
  delivery: 'deliver',
  late: 'delay',
  slow: 'delay',
  pending: 'delay',
  forever: 'delay',
  login: 'sign',
  logon: 'sign',
  log: 'sign',
  signin: 'sign',
  logged: 'sign',
  connect: 'access',
  disconnect: 'access',
  disconect: 'access',
  connection: 'access',
  drop: 'drop',
  cut: 'drop',
  load: 'access',
  open: 'access',
  opening: 'access',
  reach: 'access',
  crash: 'crash',
  close: 'crash',
  join: 'join',
  down: 'access',
  unavailable: 'access',
  inaccessible: 'access',
  status: 'presence',
  away: 'presence',
  offline: 'presence',
  online: 'presence',
  federation: 'external',
  partner: 'external',
  outside: 'external',
  picture: 'image',
  screenshot: 'image',
  alert: 'notification',
  notif: 'notification',
  unsafe: 'warning',
  mute: 'unmute',
  muted: 'unmute',
  mic: 'unmute',
  video: 'video',
  find: 'search',
  empty: 'search',
  paste: 'copy',
  wrong: 'incorrect',
  incorrect: 'incorrect',
  correct: 'incorrect',
  fail: 'error',
  failing: 'error',
  failure: 'error',
  broken: 'error',
  outdated: 'incorrect',
  bounce: 'deliver',
  stuck: 'delay',
  cancelled: 'cancel',
  cancellation: 'cancel',
  copy: 'copy',
};
const SYNONYMS: Record<string, string> = Object.fromEntries(
  Object.entries(SYNONYM_WORDS).map(([user, microsoft]) => [stem(user), stem(microsoft)]),
);

const STOP = new Set(
  (
    'a an the and or but if of to in on at by for from with without into onto as is are was were be been being ' +
    'may might can could cannot cant can t not no nor do does did done doing have has had having i me my we our ' +
    'us you your he she it its they them their this that these those there here some any all every each few ' +
    'more most other such only own same so than too very just also again still since ago today now yesterday ' +
    'morning afternoon minut minute hour hours day week please help issu issue problem problems ' +
    'user users admin admins get got gets getting keep keeps seem seems anyone everyone nobody someone people ' +
    'am pm what when where who why how which while after before during about up over under via through use ' +
    'using work working when unable able intermittent intermittently experience experienced microsoft online ' +
    'thing things stuff tri tried again small number limited affect affected attempt attempting x'
  ).split(' '),
);

/** A light stemmer: strips the commonest English suffixes so "sending"/"sends"/"send" meet. */
export function stem(word: string): string {
  let w = word;
  if (w.length <= 3) return w;
  if (w.endsWith('ies')) w = `${w.slice(0, -3)}i`;
  else if (/(ch|sh|x|ss)es$/.test(w)) w = w.slice(0, -2);
  else if (/[^siu]s$/.test(w)) w = w.slice(0, -1);
  for (const suffix of ['ing', 'ed', 'ly']) {
    if (w.endsWith(suffix) && w.length - suffix.length >= 3) {
      w = w.slice(0, -suffix.length);
      break;
    }
  }
  if (w.endsWith('e') && w.length > 4) w = w.slice(0, -1);
  if (/([^aeiouls])\1$/.test(w)) w = w.slice(0, -1);
  return w;
}

/** Lowercase words, split on anything not a letter or digit; "free/busy" → ["free", "busy"]. */
export function words(text: string): string[] {
  return (
    text
      .toLowerCase()
      .replace(/'/g, '')
      .match(/[a-z0-9]+/g) ?? []
  );
}

export interface Analysed {
  /** Stemmed content tokens (stop words out, synonyms mapped to Microsoft's word). */
  tokens: Set<string>;
  /** Services named through the nickname lexicon. */
  services: Set<string>;
  /** The words as typed that named a service or matched (for reasons), stemmed form → typed form. */
  typed: Map<string, string>;
}

export function analyse(text: string): Analysed {
  const raw = words(text);
  const tokens = new Set<string>();
  const services = new Set<string>();
  const typed = new Map<string, string>();
  const stems = raw.map((w) => stem(w));
  for (let i = 0; i < raw.length; i++) {
    const s = stems[i];
    const pair = i + 1 < raw.length ? `${raw[i]} ${raw[i + 1]}` : '';
    for (const name of NICKNAMES[pair] ?? []) services.add(name);
    for (const name of NICKNAMES[raw[i]] ?? NICKNAMES[s] ?? []) {
      services.add(name);
      typed.set(`svc:${name}`, typed.get(`svc:${name}`) ?? raw[i]);
    }
    if (STOP.has(raw[i]) || STOP.has(s) || PRODUCT_WORDS.has(raw[i]) || PRODUCT_WORDS.has(s)) continue;
    const mapped = SYNONYMS[s] ?? s;
    tokens.add(mapped);
    if (!typed.has(mapped)) typed.set(mapped, raw[i]);
  }
  return { tokens, services, typed };
}

/**
 * The kinds of failure (stemmed, after synonyms): when an issue names one and the ticket names
 * other words but none of these, the ticket is about something else on the same product.
 */
const SYMPTOM_WORDS = [
  ...'send receive deliver delay sign access join drop crash search unmute warning quarantine incorrect'.split(' '),
  ...'copy cancel flag launch export generate communicate notification sound external error presence'.split(' '),
];
export const SYMPTOMS: ReadonlySet<string> = new Set(SYMPTOM_WORDS.map((w) => SYNONYMS[stem(w)] ?? stem(w)));

/** Words that make a ticket a request for something rather than a report of a fault. */
const REQUEST = new Set(['request', 'creat', 'install', 'add', 'remov', 'increas', 'chang', 'setup', 'need', 'how']);
/** Words that report a fault ("cannot add…" is a fault, "add me to…" a request). */
const FAULT = new Set(['not', 'cant', 'cannot', 'unable', 'fail', 'error', 'broken', 'wont', 'doesnt', 'isnt', 'down']);

export function looksLikeRequest(text: string): boolean {
  const raw = words(text);
  if (raw.some((w) => FAULT.has(w) || FAULT.has(stem(w)))) return false;
  return raw.some((w) => REQUEST.has(w) || REQUEST.has(stem(w)));
}
