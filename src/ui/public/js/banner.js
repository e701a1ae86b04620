// A message bar at the top for errors that concern every page (401, server down).
export function banner(text) {
  const el = document.getElementById('banner');
  if (!el) return;
  el.textContent = text || '';
  el.hidden = !text;
}
