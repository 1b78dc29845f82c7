// The editor's "Test connection" of both config nodes sends the dialog's credentials: a stored password comes back as
// Node-RED's placeholder (the editor never holds it), a field left blank means "the one saved".

/** Node-RED's editor sends this instead of a stored password credential it does not show. */
export const CREDENTIAL_PLACEHOLDER = '__PWRD__';

/** The dialog's credentials, each placeholder or blank field taken from the stored credentials. */
export function mergeCredentials<C extends Partial<Record<keyof C, string>>>(
  fields: readonly (keyof C)[],
  fromDialog: Record<string, unknown> | undefined,
  stored: C | undefined,
): C {
  const merged: Partial<Record<keyof C, string>> = {};
  for (const field of fields) {
    const value = fromDialog?.[field as string];
    if (typeof value === 'string' && value !== '' && value !== CREDENTIAL_PLACEHOLDER) merged[field] = value;
    else if (stored?.[field]) merged[field] = stored[field];
  }
  return merged as C;
}
