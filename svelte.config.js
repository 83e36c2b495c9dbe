// Svelte 5 in runes mode everywhere (used by Vite's plugin and svelte-check).
export default { compilerOptions: { runes: true } };
