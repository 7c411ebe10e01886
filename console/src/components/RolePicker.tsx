import { Checkbox, Label } from '@fluentui/react-components';
import { useId } from 'react';
import { ROLES, type Role } from '../../../src/identity/roles.ts';

/**
 * Checkboxes for roles (the server's list), as a group with one label. Not inside a Fluent Field:
 * a Field hands its one control id to every checkbox in it, so each label would name the first.
 */
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
  const labelId = useId();
  return (
    <div style={{ display: 'flex', flexDirection: 'column', gap: 2 }}>
      <Label id={labelId}>{label}</Label>
      <div role="group" aria-labelledby={labelId} style={{ display: 'flex', flexWrap: 'wrap', gap: 4 }}>
        {offer.map((r) => (
          <Checkbox
            key={r}
            label={r}
            checked={value.includes(r)}
            onChange={(_e, d) => onChange(d.checked ? [...value, r] : value.filter((x) => x !== r))}
          />
        ))}
      </div>
    </div>
  );
}
