// Types for test/tools/local-node-red.js, so the TypeScript end-to-end tests share it with `npm start`.
export declare const repoRoot: string;
/** Why dist/ must be rebuilt, or null when it is up to date. */
export declare function staleReason(): string | null;
/** Runs test/tools/build.js when dist/ is stale; returns why it built, or null. Throws with the compiler output. */
export declare function buildIfStale(options?: { quiet?: boolean }): string | null;
export interface PreparedUserDir {
  userDir: string;
  /** What flows.json holds: the flow file it was copied from, "an empty flow", or "kept from the last run". */
  flowSource: string;
}
export declare function prepareUserDir(options: {
  userDir: string;
  flowFile?: string | null;
  keepFlows?: boolean;
  /** Node-RED node files not to load (settings.nodesExcludes), e.g. "10-mqtt.js". */
  nodesExcludes?: string[];
}): PreparedUserDir;
/** [executable, args] that start the real node-red binary on userDir. */
export declare function nodeRedCommand(userDir: string): [string, string[]];
