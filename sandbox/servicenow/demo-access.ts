import { DEMO_USERS } from '../microsoft/constants.ts';

/**
 * The access-request part of the demo set: the "Cloud access request" catalog item whose requested
 * items Ticketloop's permissions on demand takes in (src/flows/pod/itsm-front.ts), its variables, and
 * the sandbox tenant's Entra users as Entra ID user provisioning creates them in ServiceNow
 * (user_name = userPrincipalName, email = mail; the object id in the custom column
 * `u_entra_object_id`, which provisioning fills when that mapping is added).
 */

export const ACCESS_ITEM = {
  name: 'Cloud access request',
  short_description: 'Time-bound access to an Azure subscription or an Entra group, approved and revoked by Ticketloop',
};

type Fields = Record<string, string>;

/** item_option_new rows (type: 6 Single Line Text, 2 Multi Line Text, 5 Select Box). */
export const ACCESS_VARIABLES: Fields[] = [
  { name: 'system', question_text: 'Authorization system', type: '6', order: '100', mandatory: 'true' },
  { name: 'permission', question_text: 'Permission', type: '6', order: '200', mandatory: 'true' },
  { name: 'scope', question_text: 'Scope (empty: the permission’s own)', type: '6', order: '300' },
  { name: 'duration', question_text: 'For how long (e.g. PT1H)', type: '5', order: '400', default_value: 'PT1H' },
  { name: 'justification', question_text: 'Why do you need it?', type: '2', order: '500', mandatory: 'true' },
  { name: 'identity_type', question_text: 'For', type: '5', order: '600', default_value: 'user' },
  { name: 'identity_id', question_text: 'Object id (empty: yourself)', type: '6', order: '700' },
];

/** The sandbox tenant's users, provisioned into ServiceNow. */
export const PROVISIONED_PEOPLE: Fields[] = DEMO_USERS.map((u) => {
  const [first, ...rest] = u.displayName.split(' ');
  return {
    user_name: u.userPrincipalName,
    first_name: first,
    last_name: rest.join(' '),
    email: u.mail,
    u_entra_object_id: u.id,
    title: 'Employee',
    active: 'true',
  };
});

/** Seed them through the demo loader's `ensure` (fixed sys_ids, idempotent). */
export function seedAccessCatalog(
  ensure: (table: string, key: string, fields: Fields, find?: (r: Fields) => boolean) => string,
): void {
  for (const p of PROVISIONED_PEOPLE)
    ensure('sys_user', p.user_name, p, (r) => r.user_name === p.user_name || r.email === p.email);
  const item = ensure('sc_cat_item', ACCESS_ITEM.name, { ...ACCESS_ITEM, active: 'true' });
  for (const v of ACCESS_VARIABLES)
    ensure('item_option_new', `${ACCESS_ITEM.name}:${v.name}`, { ...v, cat_item: item, active: 'true' });
}
