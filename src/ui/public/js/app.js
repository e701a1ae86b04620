// Hash router: #/ jobs, #/jobs/<id>, #/compare?ids=a,b, #/new. Each page returns a cleanup function.
import { getApiKey, setApiKey } from './api.js';
import { banner } from './banner.js';
import { jobsPage } from './pages/jobs-list.js';
import { jobPage } from './pages/job-page.js';
import { comparePage } from './pages/compare.js';
import { newJobPage } from './pages/new-job.js';
import { sweepPage, sweepsPage } from './pages/sweep-page.js';

const view = document.getElementById('view');
let cleanup = () => {};

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path, params: new URLSearchParams(query) };
}

async function route() {
  cleanup();
  cleanup = () => {};
  view.replaceChildren();
  const { path, params } = parseHash();
  let m;
  let nav = 'jobs';
  if ((m = /^\/jobs\/([^/]+)$/.exec(path))) cleanup = jobPage(view, decodeURIComponent(m[1]));
  else if (path === '/compare') { nav = 'compare'; cleanup = comparePage(view, (params.get('ids') || '').split(',').filter(Boolean)); }
  else if (path === '/new') { nav = 'new'; cleanup = newJobPage(view); }
  else if ((m = /^\/sweeps\/([^/]+)$/.exec(path))) { nav = 'sweeps'; cleanup = sweepPage(view, decodeURIComponent(m[1])); }
  else if (path === '/sweeps') { nav = 'sweeps'; cleanup = sweepsPage(view); }
  else cleanup = jobsPage(view);
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
}


const keyInput = document.getElementById('api-key');
keyInput.value = getApiKey();
document.getElementById('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  setApiKey(keyInput.value.trim());
  banner('');
  route();
});

window.addEventListener('hashchange', route);
route();
