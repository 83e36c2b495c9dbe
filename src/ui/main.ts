import { mount } from 'svelte';
import App from './shell/App.svelte';
import './shell/app.css';
import { findBridge, takePairingOffer } from './shell/bridge.svelte.ts';
import { registerOffline } from './shell/offline.svelte.ts';

// A pairing link's code leaves the address before anything renders (the app opens on Use).
const offer = takePairingOffer();
mount(App, { target: document.getElementById('app')! });
void findBridge(offer).then((found) => {
  if (found.kind !== 'same-origin') registerOffline();
});
// A pairing link opened in a tab that already shows the app changes only the fragment.
window.addEventListener('hashchange', () => {
  const again = takePairingOffer();
  if (again) void findBridge(again);
});
