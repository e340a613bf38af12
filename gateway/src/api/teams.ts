/**
 * `GET /teams`: the caller's team as E2B's `Team`. A SoulBox API key belongs to exactly one team (a
 * namespace), so the list has one entry, the default; `apiKey` is the key the caller presented
 * (SoulBox keeps only hashes, and the caller already holds it).
 */

/** E2B `Team`. */
export interface E2bTeam {
  teamID: string;
  name: string;
  apiKey: string;
  isDefault: boolean;
}

/** The teams of a caller of team `team` who presented `apiKey`. Pure. */
export function teamsOf(team: string, apiKey: string): E2bTeam[] {
  return [{ teamID: team, name: team, apiKey, isDefault: true }];
}
