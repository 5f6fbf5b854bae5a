// A lint rule that keeps the layers of docs/architecture.md: a file may import only from the
// layers its own layer lists. Paths are resolved, so `../x` and `../../x` are judged alike.
import { dirname, relative, resolve } from 'node:path';

/**
 * The layer of a repository-relative path. A layer lists folders (ending in `/`) and single
 * modules (without extension, as `src/config`); the longest match wins.
 */
function layerOf(path, layers) {
  const stem = path.replace(/\.[cm]?[jt]sx?$/, '');
  let best = null;
  let bestLength = -1;
  for (const [name, layer] of Object.entries(layers)) {
    for (const prefix of layer.paths) {
      const hit = prefix.endsWith('/') ? path.startsWith(prefix) : stem === prefix;
      if (hit && prefix.length > bestLength) [best, bestLength] = [name, prefix.length];
    }
  }
  return best;
}

export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports follow the layers drawn in docs/architecture.md.' },
    schema: [{ type: 'object', additionalProperties: true }],
    messages: {
      forbidden: "Layer '{{from}}' may not import layer '{{to}}' ({{source}}); see docs/architecture.md.",
    },
  },
  create(context) {
    const { root, layers } = context.options[0];
    const file = relative(root, context.filename).split('\\').join('/');
    const from = layerOf(file, layers);
    if (!from) return {};
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = relative(root, resolve(dirname(context.filename), source))
        .split('\\')
        .join('/');
      const to = layerOf(target, layers);
      if (!to || to === from || layers[from].mayImport.includes(to)) return;
      context.report({ node, messageId: 'forbidden', data: { from, to, source } });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export default { rules: { layers: layersRule } };
