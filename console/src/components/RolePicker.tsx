import { Checkbox, Field } from '@fluentui/react-components';
import { ROLES, type Role } from '../../../src/identity/roles.ts';

/** Checkboxes for roles (the server's list), as a group with one label. */
export function RolePicker({
  value,
  onChange,
  label = 'Roles',
  offer = ROLES,
}: {
  value: Role[];
  onChange(roles: Role[]): void;
  label?: string;
  offer?: readonly Role[];
}) {
  return (
    <Field label={label}>
      <div role="group" aria-label={label} style={{ display: 'flex', flexWrap: 'wrap', gap: 4 }}>
        {offer.map((r) => (
          <Checkbox
            key={r}
            label={r}
            checked={value.includes(r)}
            onChange={(_e, d) => onChange(d.checked ? [...value, r] : value.filter((x) => x !== r))}
          />
        ))}
      </div>
    </Field>
  );
}
