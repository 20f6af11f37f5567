// Replaced at build time (tools/web/build.mjs --trust DIR) by the anchors of
// a trust directory. This default bakes in nothing: the user pins anchors.
export default { root: '', policyPub: '', kmsPub: '', pcr0: '', label: '' };
