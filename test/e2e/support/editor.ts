// Drives the Node-RED editor in Chromium the way a person does (palette, double-click, Import › Examples, Deploy),
// reading its state through the editor's own RED API where the DOM alone would be ambiguous.
import type { Page } from 'playwright-core';

/** The slice of the editor's global RED object the checks read. Runs in the page, so it is typed loosely here. */
export interface EditorNodeInfo {
  type: string;
  category: string | null;
  paletteCategory: string | null;
  inPalette: boolean;
  /** Settings whose default is a string, number or boolean: each should have a form field. */
  scalarDefaults: string[];
  hasHelp: boolean;
}

const acceptingDialogs = new WeakSet<Page>();
/** What each page's editor held when it was last loaded: every node, config node, subflow and tab id. */
const loadedContent = new WeakMap<Page, string>();
const CONTENT = `(() => {
  const ids = [];
  RED.nodes.eachNode((n) => { ids.push(n.id); });
  RED.nodes.eachConfig((n) => { ids.push(n.id); });
  RED.nodes.eachSubflow((n) => { ids.push(n.id); });
  RED.nodes.eachWorkspace((n) => { ids.push(n.id); });
  return ids.sort().join(',');
})()`;

/** Loads (or reloads) the editor and waits until its palette and flows are in place. */
export async function openEditor(page: Page, url: string): Promise<void> {
  if (!acceptingDialogs.has(page)) {
    // A page with undeployed changes asks before unloading; the tests always mean to leave.
    page.on('dialog', (dialog) => void dialog.accept().catch(() => undefined));
    acceptingDialogs.add(page);
  }
  await page.goto(`${url}/`);
  await page.waitForSelector('.red-ui-palette-node[data-palette-type="inject"]');
  await page.waitForFunction(
    'typeof RED !== "undefined" && !!RED.workspaces.active() && !$("#red-ui-loading-progress").is(":visible")',
  );
  loadedContent.set(page, await page.evaluate<string>(CONTENT));
}

/**
 * Back to what the editor loaded without reloading the page (a reload costs seconds of a busy machine's CPU): undoes
 * every change (Edit › Undo, as a person would) and checks that exactly the loaded nodes, config nodes and tabs are
 * left. Reloads only when undo cannot get there.
 */
export async function revertToLoaded(page: Page, url: string): Promise<void> {
  const loaded = loadedContent.get(page);
  if (loaded !== undefined) {
    await page.evaluate(`(() => { while (RED.history.depth() > 0) RED.actions.invoke('core:undo'); })()`);
    if ((await page.evaluate<string>(CONTENT)) === loaded) return;
  }
  await openEditor(page, url);
}

/** What the editor knows of a node type: its definition, where the palette shows it, whether it has help. */
export function describeType(page: Page, type: string): Promise<EditorNodeInfo> {
  return page.evaluate(`(() => {
    const type = ${JSON.stringify(type)};
    const def = RED.nodes.getType(type);
    const entry = document.querySelector('.red-ui-palette-node[data-palette-type="' + type + '"]');
    const container = entry ? entry.closest('.red-ui-palette-category') : null;
    const help = RED.nodes.getNodeHelp(type) || '';
    return {
      type,
      category: def ? def.category : null,
      paletteCategory: container ? container.id.replace(/^red-ui-palette-container-/, '') : null,
      inPalette: !!entry,
      scalarDefaults: def ? Object.keys(def.defaults || {}).filter((p) => ['string', 'number', 'boolean'].includes(typeof def.defaults[p].value)) : [],
      hasHelp: help.replace(/<[^>]*>/g, '').trim().length > 40,
    };
  })()`);
}

/** Drags `type` from the palette onto the workspace, as a person does; returns the new node's id. */
export async function dragFromPalette(page: Page, type: string): Promise<string> {
  const before = await page.evaluate<string[]>(`RED.nodes.filterNodes({ type: ${JSON.stringify(type)} }).map((n) => n.id)`);
  const entry = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
  await entry.scrollIntoViewIfNeeded();
  const from = await entry.boundingBox();
  const canvas = await page.locator('#red-ui-workspace-chart').boundingBox();
  if (!from || !canvas) throw new Error(`${type} is not visible in the palette`);
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  // jQuery UI's draggable needs intermediate moves to start and to track the drop target.
  await page.mouse.move(from.x + from.width / 2 + 20, from.y + from.height / 2, { steps: 4 });
  await page.mouse.move(canvas.x + 300, canvas.y + 150, { steps: 12 });
  await page.mouse.up();
  const created = await page.evaluate<string[]>(
    `RED.nodes.filterNodes({ type: ${JSON.stringify(type)} }).map((n) => n.id).filter((id) => !${JSON.stringify(before)}.includes(id))`,
  );
  if (created.length !== 1) throw new Error(`dragging ${type} from the palette created ${created.length} nodes`);
  return created[0];
}

/**
 * Opens the edit dialog of a node of `type`: a flow node is dragged from the palette and double-clicked; a config
 * node is added as its "Add new…" button in a node's dialog does. Resolves once the tray shows the form.
 */
export async function openEditDialog(page: Page, type: string, isConfig: boolean): Promise<void> {
  if (isConfig) {
    await page.evaluate(`RED.editor.editConfig('', ${JSON.stringify(type)}, '_ADD_')`);
  } else {
    const id = await dragFromPalette(page, type);
    await page.dblclick(`g[id="${id}"] .red-ui-flow-node`);
  }
  await page.waitForSelector('.red-ui-tray .red-ui-tray-body form', { state: 'visible' });
}

/** The settings of the open dialog that have no form field (#node-input-<p> or #node-config-input-<p>). */
export function missingFields(page: Page, settings: string[], isConfig: boolean): Promise<string[]> {
  const prefix = isConfig ? 'node-config-input-' : 'node-input-';
  return page.evaluate(
    `${JSON.stringify(settings)}.filter((p) => !document.querySelector('.red-ui-tray #${prefix}' + p))`,
  );
}

/** Shows the type's help in the Help sidebar and returns the text displayed there. */
export async function showHelp(page: Page, type: string): Promise<string> {
  await page.evaluate(`RED.sidebar.help.show(${JSON.stringify(type)})`);
  const help = page.locator('#red-ui-sidebar-content .red-ui-help:visible');
  await help.first().waitFor({ state: 'visible' });
  return (await help.first().innerText()).trim();
}

const CANCEL_CLICKS = 10;

/** Closes the open edit tray(s) without saving. */
export async function cancelEditDialogs(page: Page): Promise<void> {
  for (let i = 0; i < CANCEL_CLICKS; i++) {
    const cancel = page.locator('.red-ui-tray:visible').last().locator('#node-dialog-cancel, #node-config-dialog-cancel');
    if ((await cancel.count()) === 0) return;
    // A tray counted while it was sliding shut is gone before the click lands (a click on it then waits for the whole
    // test's timeout): look again instead.
    await cancel.first().click({ timeout: 2000 }).catch(() => undefined);
    await page.waitForTimeout(300);
  }
  throw new Error(`an edit dialog is still open after ${CANCEL_CLICKS} clicks on its Cancel button`);
}

/** The entries Import › Examples lists under `moduleName` (file names without .json, sub-folders as a/b). */
export async function openExamples(page: Page, moduleName: string): Promise<string[]> {
  await page.evaluate(`RED.actions.invoke('core:show-import-dialog')`);
  await page.locator('#red-ui-clipboard-dialog-import-tabs a', { hasText: 'Examples' }).click();
  // The tree is Examples › flows › <module> › files and folders, each loaded when first expanded: expand the path to
  // the module and everything under it, until nothing is left folded.
  const listing = `(() => {
    const tree = $('#red-ui-clipboard-dialog-import-tab-examples .red-ui-treeList').first();
    const files = [];
    let folded = 0;
    let found = false;
    const collect = (item, prefix) => {
      if (!item.children) { files.push(prefix); return; }
      if (typeof item.children === 'function' || !item.expanded) { folded++; item.treeList.expand(); return; }
      item.children.forEach((child) => collect(child, prefix ? prefix + '/' + child.label : child.label));
    };
    const find = (item) => {
      if (item.label === ${JSON.stringify(moduleName)}) { found = true; collect(item, ''); return; }
      if (!item.children || item.depth >= 2) return;
      if (typeof item.children === 'function' || !item.expanded) { folded++; item.treeList.expand(); return; }
      item.children.forEach(find);
    };
    (tree.treeList('data') || []).forEach(find);
    return { folded, files: files.sort(), found };
  })()`;
  for (let round = 0; round < 5; round++) {
    const { folded, files, found } = await page.evaluate<{ folded: number; files: string[]; found: boolean }>(listing);
    if (folded === 0) return found ? files : [];
    await page.waitForTimeout(250);
  }
  throw new Error(`Import › Examples did not finish listing ${moduleName}`);
}

const IMPORT_CLICKS = 10;

/** With the Examples tab open on the module, imports `example` into a new flow tab and drops it on the canvas. */
export async function importExample(page: Page, example: string): Promise<void> {
  const label = example.split('/').pop() ?? example;
  const exact = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
  const item = page.locator('#red-ui-clipboard-dialog-import-tab-examples .red-ui-treeList-label', { hasText: exact }).first();
  // A click that lands while the tree is still laying out its folders is lost (seen when the dialog is opened again
  // on the same page): click again, up to IMPORT_CLICKS times, until the dialog has taken the selection.
  const ready = '!document.querySelector("#red-ui-clipboard-dialog-ok").disabled';
  for (let attempt = 1; ; attempt++) {
    await item.click();
    const taken = await page.waitForFunction(ready, undefined, { timeout: 2000 }).then(() => true, () => false);
    if (taken) break;
    if (attempt === IMPORT_CLICKS) throw new Error(`Import › Examples did not select ${example} after ${attempt} clicks`);
  }
  await page.locator('#red-ui-clipboard-dialog-import-opt-new').click();
  await page.locator('#red-ui-clipboard-dialog-ok').click();
  // Imported nodes follow the mouse until a click drops them.
  await page.mouse.move(500, 400);
  await page.mouse.click(500, 400);
  await page.waitForTimeout(300);
}

/** Imports a flow as pasted into Import › Clipboard, into a new flow tab, and drops it on the canvas. */
export async function importFromClipboard(page: Page, flow: unknown[]): Promise<void> {
  await page.evaluate(`RED.actions.invoke('core:show-import-dialog')`);
  const text = page.locator('#red-ui-clipboard-dialog-import-text');
  await text.fill(JSON.stringify(flow));
  await text.press('End'); // the dialog validates the text on keyup
  await page.locator('#red-ui-clipboard-dialog-import-opt-new').click();
  await page.locator('#red-ui-clipboard-dialog-ok').click();
  await page.mouse.move(500, 400);
  await page.mouse.click(500, 400);
  await page.waitForTimeout(300);
}

/** Nodes of the active workspace that the editor does not know or marks invalid (red triangle). */
export function problemNodes(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const problems = [];
    RED.nodes.eachNode((n) => {
      if (n.z !== RED.workspaces.active()) return;
      if (!RED.nodes.getType(n.type) || n.type === 'unknown') problems.push(n.type + ' (' + n.id + '): unknown type');
      else if (n.valid === false) problems.push(n.type + ' (' + n.id + '): invalid ' + JSON.stringify(n.validationErrors || []));
    });
    return problems;
  })()`);
}

/** Clicks Deploy (confirming a deploy with warnings) and waits until the editor has no undeployed changes. */
export async function deploy(page: Page): Promise<void> {
  await page.locator('#red-ui-header-button-deploy').click();
  const confirm = page.locator('#red-ui-deploy-dialog-confirm-deploy-deploy');
  await Promise.race([confirm.waitFor({ state: 'visible', timeout: 3000 }).then(() => confirm.click()), page.waitForFunction('!RED.nodes.dirty()', undefined, { timeout: 3000 })]).catch(() => undefined);
  await page.waitForFunction('!RED.nodes.dirty()');
}
