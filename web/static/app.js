// Shoal search page. Plain JS, no dependencies, no build step.
//
// Security rule for this file: document data (ids, stored fields, highlight
// fragments, error reasons) is only ever put into the page through
// textContent / createTextNode / setAttribute. innerHTML is never used.
(function () {
  'use strict';

  var PAGE_SIZE = 10;
  var PAGE_WINDOW = 2; // page numbers shown either side of the current page
  var SNIPPET_CHARS = 260;
  var MAX_FRAGMENTS = 3;
  var CLIENT_TIMEOUT_MS = 15000;
  var SEARCH_TIMEOUT = '2s';
  var HIGHLIGHT_FIELDS = ['title', 'body'];
  var DISPLAY_FIELDS = ['title', 'body', 'kind', 'pkg'];
  var BADGE_FIELDS = ['kind', 'pkg'];
  var DEFAULT_FACET_SIZE = 10;

  // KEY_STORAGE keeps an API key the user pasted, for this tab only.
  var KEY_STORAGE = 'shoal-api-key';

  var nf = new Intl.NumberFormat('en-US');
  var narrow = window.matchMedia('(max-width: 759px)');

  function $(id) { return document.getElementById(id); }

  var els = {
    form: $('search-form'),
    q: $('q'),
    index: $('index'),
    indexField: $('index-field'),
    layout: $('layout'),
    sidebar: $('sidebar'),
    details: $('facets-details'),
    filterCount: $('filter-count'),
    facets: $('facets'),
    filters: $('filters'),
    error: $('error-box'),
    partial: $('partial-banner'),
    summary: $('summary'),
    empty: $('empty-state'),
    results: $('results'),
    pager: $('pager'),
    timings: $('timings'),
    timingsPhases: $('timings-phases'),
    timingsShards: $('timings-shards'),
    keyForm: $('key-form'),
    key: $('api-key')
  };

  // Current search: {index, q, page, filters: [{facet, term}]}.
  var state = { index: '', q: '', page: 1, filters: [] };
  var indexList = null;        // [{name, shards, docs}] from /v1/indexes, or null if unknown
  var infoCache = new Map();   // index name -> Promise<info|null>
  var currentInfo = null;      // info of the index of the last rendered search
  var inflight = null;         // AbortController of the running search
  var seq = 0;                 // increases with every search; stale responses are dropped
  var lastPages = 0;           // number of result pages of the last rendered search

  // ---------------------------------------------------------------- helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function text(v) {
    if (v === undefined || v === null) return '';
    if (Array.isArray(v)) return v.map(text).filter(Boolean).join(', ');
    if (typeof v === 'object') return '';
    return String(v);
  }

  function values(v) {
    if (v === undefined || v === null || v === '') return [];
    if (Array.isArray(v)) return v.map(text).filter(Boolean);
    var s = text(v);
    return s ? [s] : [];
  }

  function num(v, fallback) {
    var n = typeof v === 'number' ? v : Number(v);
    return isFinite(n) ? n : fallback;
  }

  function fmt(n) { return nf.format(n); }

  function plural(n, one, many) { return fmt(n) + ' ' + (n === 1 ? one : many); }

  function cloneState(s) {
    return {
      index: s.index,
      q: s.q,
      page: s.page,
      filters: s.filters.map(function (f) { return { facet: f.facet, term: f.term }; })
    };
  }

  function hasFilter(s, facet, term) {
    return s.filters.some(function (f) { return f.facet === facet && f.term === term; });
  }

  function truncate(s, max) {
    s = s.replace(/\s+/g, ' ').trim();
    if (s.length <= max) return s;
    var cut = s.slice(0, max);
    var sp = cut.lastIndexOf(' ');
    if (sp > max * 0.6) cut = cut.slice(0, sp);
    return cut.replace(/[\s.,;:]+$/, '') + '…';
  }

  // ------------------------------------------------------ highlight fragments

  var ENTITIES = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"', '&#39;': "'", '&#34;': '"' };

  function decodeEntities(s) {
    // Single pass, so "&amp;lt;" correctly becomes the text "&lt;".
    return s.replace(/&(?:lt|gt|amp|quot|#39|#34);/g, function (m) { return ENTITIES[m]; });
  }

  // appendFragment renders one server highlight fragment into parent. The
  // only markup honoured is the literal <mark> / </mark>; everything else is
  // decoded and inserted as text, so a document containing "<script>" or
  // "<img onerror=…>" can never become markup.
  function appendFragment(parent, frag) {
    var parts = String(frag).split(/(<mark>|<\/mark>)/);
    var depth = 0;
    var mark = null;
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (part === '<mark>') {
        if (depth === 0) {
          mark = el('mark');
          parent.appendChild(mark);
        }
        depth++;
      } else if (part === '</mark>') {
        if (depth > 0) depth--;
        if (depth === 0) mark = null;
      } else if (part) {
        (depth > 0 ? mark : parent).appendChild(document.createTextNode(decodeEntities(part)));
      }
    }
  }

  function appendFragments(parent, frags) {
    frags.forEach(function (frag, i) {
      var s = String(frag);
      if (i > 0) {
        var prev = String(frags[i - 1]);
        var joined = /…\s*$/.test(prev) || /^\s*…/.test(s);
        parent.appendChild(el('span', 'frag-sep', joined ? ' ' : ' … '));
      }
      var span = el('span', 'frag');
      appendFragment(span, s);
      parent.appendChild(span);
    });
  }

  // -------------------------------------------------------------- URL state

  function enc(s) {
    // Like URLSearchParams, but keeps ":" and "/" readable: f=pkg:net/http.
    return encodeURIComponent(s).replace(/%20/g, '+').replace(/%3A/gi, ':').replace(/%2F/gi, '/');
  }

  function stateFromURL() {
    var p = new URLSearchParams(window.location.search);
    var page = parseInt(p.get('page') || '1', 10);
    var filters = [];
    p.getAll('f').forEach(function (f) {
      var i = f.indexOf(':');
      if (i <= 0 || i === f.length - 1) return;
      var facet = f.slice(0, i);
      var term = f.slice(i + 1);
      if (!filters.some(function (x) { return x.facet === facet && x.term === term; })) {
        filters.push({ facet: facet, term: term });
      }
    });
    return {
      index: p.get('index') || '',
      q: p.get('q') || '',
      page: isFinite(page) && page >= 1 ? page : 1,
      filters: filters
    };
  }

  function urlFor(s) {
    var parts = [];
    if (s.index) parts.push('index=' + enc(s.index));
    if (s.q) parts.push('q=' + enc(s.q));
    if (s.page > 1) parts.push('page=' + s.page);
    s.filters.forEach(function (f) { parts.push('f=' + enc(f.facet + ':' + f.term)); });
    return window.location.pathname + (parts.length ? '?' + parts.join('&') : '');
  }

  function updateURL(s, mode) {
    if (mode === 'none') return;
    var url = urlFor(s);
    var here = window.location.pathname + window.location.search;
    if (mode === 'push' && url !== here) {
      window.history.pushState(null, '', url);
    } else if (url !== here) {
      window.history.replaceState(null, '', url);
    }
  }

  // ------------------------------------------------------------------- API

  function ApiError(message, opts) {
    this.name = 'ApiError';
    this.message = message;
    opts = opts || {};
    this.status = opts.status || 0;
    this.type = opts.type || '';
    this.shards = opts.shards || null;
    this.coverage = opts.coverage || null;
    this.title = opts.title || '';
  }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.constructor = ApiError;

  function errorFromResponse(res, body, raw) {
    var err = body && body.error;
    var reason = '';
    var type = '';
    if (err && typeof err === 'object') {
      reason = text(err.reason) || text(err.message);
      type = text(err.type);
    } else if (typeof err === 'string') {
      reason = err;
    } else if (body && typeof body.message === 'string') {
      reason = body.message;
    }
    if (!reason && raw && raw.length < 300 && !/<[a-z!]/i.test(raw)) reason = raw.trim();
    if (!reason) reason = 'The server answered HTTP ' + res.status + (res.statusText ? ' ' + res.statusText : '') + '.';
    return new ApiError(reason, {
      status: res.status,
      type: type,
      shards: body && typeof body.shards === 'object' ? body.shards : null,
      coverage: body && typeof body.coverage === 'object' ? body.coverage : null
    });
  }

  function storedKey() {
    try { return sessionStorage.getItem(KEY_STORAGE) || ''; } catch (e) { return ''; }
  }

  async function fetchJSON(url, opts, signal) {
    var res;
    var init = Object.assign({ headers: { Accept: 'application/json' } }, opts || {});
    var key = storedKey();
    if (key) init.headers = Object.assign({}, init.headers, { Authorization: 'Bearer ' + key });
    if (signal) init.signal = signal;
    try {
      res = await fetch(url, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError('Could not reach the search server. Check that it is running and try again.', {
        title: 'Network error'
      });
    }
    var raw = '';
    try {
      raw = await res.text();
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError('The connection was interrupted while reading the response.', { status: res.status, title: 'Network error' });
    }
    var body = null;
    try { body = raw ? JSON.parse(raw) : null; } catch (e) { body = null; }
    if (!res.ok) throw errorFromResponse(res, body, raw);
    if (!body || typeof body !== 'object') {
      throw new ApiError('The server sent a response that is not valid JSON (HTTP ' + res.status + ').', { status: res.status });
    }
    return body;
  }

  function indexPath(name) { return '/v1/indexes/' + encodeURIComponent(name); }

  // getInfo fetches an index's description once; failures are not cached.
  function getInfo(name) {
    if (!infoCache.has(name)) {
      var signal = typeof AbortSignal !== 'undefined' && AbortSignal.timeout ? AbortSignal.timeout(CLIENT_TIMEOUT_MS) : undefined;
      var p = fetchJSON(indexPath(name), null, signal).catch(function () {
        infoCache.delete(name);
        return null;
      });
      infoCache.set(name, p);
    }
    return infoCache.get(name);
  }

  function facetDefs(info) {
    var out = {};
    var defs = info && info.facets;
    if (!defs || typeof defs !== 'object') return out;
    Object.keys(defs).forEach(function (name) {
      var d = defs[name] || {};
      var size = num(d.size, DEFAULT_FACET_SIZE);
      out[name] = {
        field: typeof d.field === 'string' && d.field ? d.field : name,
        size: size > 0 ? Math.floor(size) : DEFAULT_FACET_SIZE
      };
    });
    return out;
  }

  function buildQuery(s, defs) {
    var q = s.q.trim();
    var textQuery = q ? { query: q } : null;
    if (!s.filters.length) return textQuery || { match_all: {} };
    var conjuncts = textQuery ? [textQuery] : [];
    s.filters.forEach(function (f) {
      conjuncts.push({ term: f.term, field: defs[f.facet] ? defs[f.facet].field : f.facet });
    });
    return { conjuncts: conjuncts };
  }

  function buildRequest(s, info) {
    var defs = facetDefs(info);
    var fields = DISPLAY_FIELDS.slice();
    Object.keys(defs).forEach(function (name) {
      if (fields.indexOf(defs[name].field) < 0) fields.push(defs[name].field);
    });
    var req = {
      query: buildQuery(s, defs),
      size: PAGE_SIZE,
      from: (s.page - 1) * PAGE_SIZE,
      highlight: { style: 'html', fields: HIGHLIGHT_FIELDS.slice() },
      fields: fields,
      timeout: SEARCH_TIMEOUT,
      profile: true // where the time went: shown behind the "timings" toggle
    };
    var names = Object.keys(defs);
    if (names.length) {
      req.facets = {};
      names.forEach(function (name) { req.facets[name] = { field: defs[name].field, size: defs[name].size }; });
    }
    return req;
  }

  // ---------------------------------------------------------------- search

  function setBusy(busy) {
    document.body.dataset.state = busy ? 'loading' : 'ready';
    els.results.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  // runSearch makes s the current search, records it in the URL according to
  // mode ('push' | 'replace' | 'none') and sends exactly one search request.
  async function runSearch(s, mode) {
    state = cloneState(s);
    updateURL(state, mode);
    syncControls();

    var my = ++seq;
    if (inflight) inflight.abort();
    var controller = new AbortController();
    inflight = controller;
    var clientTimedOut = false;
    var timer = setTimeout(function () { clientTimedOut = true; controller.abort(); }, CLIENT_TIMEOUT_MS);
    setBusy(true);

    try {
      var info = await getInfo(state.index);
      if (my !== seq) return;
      var body = await fetchJSON(indexPath(state.index) + '/search', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(buildRequest(state, info))
      }, controller.signal);
      if (my !== seq) return;
      currentInfo = info;
      hideError();
      render(state, info, body);
    } catch (e) {
      if (my !== seq) return;
      if (e && e.name === 'AbortError' && !clientTimedOut) return;
      if (clientTimedOut) {
        e = new ApiError('The server did not answer within ' + CLIENT_TIMEOUT_MS / 1000 + ' seconds. Try again, or try a simpler query.', { title: 'Search timed out' });
      }
      showError(e);
      clearResults();
    } finally {
      clearTimeout(timer);
      if (my === seq) {
        inflight = null;
        setBusy(false);
      }
    }
  }

  function newSearch(changes) {
    var s = cloneState(state);
    Object.keys(changes).forEach(function (k) { s[k] = changes[k]; });
    return runSearch(s, 'push');
  }

  function toggleFilter(facet, term) {
    var filters = state.filters.filter(function (f) { return !(f.facet === facet && f.term === term); });
    if (filters.length === state.filters.length) filters.push({ facet: facet, term: term });
    newSearch({ filters: filters, page: 1 });
  }

  function clearFilters() {
    newSearch({ filters: [], page: 1 });
  }

  // -------------------------------------------------------------- rendering

  // keepFocus re-renders a container and puts keyboard focus back on the
  // equivalent control afterwards, so keyboard users are not thrown to <body>.
  function keepFocus(container, renderFn, keyOf, find) {
    var active = document.activeElement;
    var key = active && container.contains(active) ? keyOf(active) : null;
    renderFn();
    if (key !== null && key !== undefined) {
      var target = find(key);
      if (target && !target.disabled) target.focus();
      else if (!container.contains(document.activeElement)) {
        var first = container.querySelector('button:not([disabled])');
        (first || els.q).focus();
      }
    }
  }

  function syncControls() {
    if (document.activeElement !== els.q || els.q.value.trim() !== state.q.trim()) els.q.value = state.q;
    if (state.index && els.index.value !== state.index) els.index.value = state.index;
    document.title = state.q ? state.q + ' – Shoal search' : 'Shoal search';
    renderChips(state);
    markActiveTerms(state);
  }

  function render(s, info, body) {
    var hits = Array.isArray(body.hits) ? body.hits : [];
    var total = Math.max(0, num(body.total_hits, hits.length));
    var took = num(body.took_ms, NaN);
    if (!isFinite(took) && isFinite(num(body.took, NaN))) took = num(body.took, 0) / 1e6; // bleve's ns
    renderSummary(total, took);
    renderPartial(body);
    renderHits(s, hits);
    renderEmpty(s, total, hits.length);
    renderPager(s, total);
    renderFacets(s, info, body.facets);
    renderTimings(body.profile);
  }

  // ---------------------------------------------------------------- timings

  function us(v) {
    var n = num(v, NaN);
    if (!isFinite(n)) return '–';
    return n >= 1000 ? fmt(Math.round(n / 100) / 10) + ' ms' : fmt(n) + ' µs';
  }

  // renderTimings shows the answer's profile behind the "timings" toggle:
  // the coordinator's phases, and one row per shard with its state, the
  // node and copy that answered, its wait on the node, search, network and
  // hedges.
  function renderTimings(p) {
    if (!p || typeof p !== 'object') {
      els.timings.hidden = true;
      els.timingsPhases.textContent = '';
      els.timingsShards.replaceChildren();
      return;
    }
    var ph = p.phases && typeof p.phases === 'object' ? p.phases : {};
    els.timingsPhases.textContent = 'took ' + us(p.took_us) + ': prepare ' + us(ph.prepare_us) +
      ' · presearch ' + us(ph.presearch_us) + (ph.stats_cache ? ' (statistics cache ' + text(ph.stats_cache) + ')' : '') +
      ' · scatter ' + us(ph.scatter_us) + ' · merge ' + us(ph.merge_us);
    var list = document.createDocumentFragment();
    (Array.isArray(p.shards) ? p.shards : []).forEach(function (sh) {
      if (!sh || typeof sh !== 'object') return;
      var li = el('li', sh.error ? 'timings-shard timings-failed' : 'timings-shard');
      li.setAttribute('data-shard', text(sh.shard));
      li.setAttribute('data-state', text(sh.state));
      var parts = [['shard', 'shard ' + text(sh.shard)], ['state', STATE_TEXT[text(sh.state)] || text(sh.state) || '–'],
        ['node', text(sh.node) || '(queue group)']];
      if (sh.error) {
        parts.push(['error', text(sh.error)]);
      } else {
        parts.push(['copy', 'copy ' + text(sh.copy)], ['queue', 'queue ' + us(sh.queue_us)], ['search', 'search ' + us(sh.search_us)],
          ['network', 'network ' + us(sh.network_us)], ['wait', 'waited ' + us(sh.wait_us)]);
      }
      parts.push(['hedges', plural(num(sh.hedges, 0), 'hedge', 'hedges')], ['asked', 'asked ' + (values(sh.asked).join(', ') || '–')]);
      parts.forEach(function (part, i) {
        if (i > 0) li.appendChild(document.createTextNode(' · '));
        var span = el('span', null, part[1]);
        span.setAttribute('data-k', part[0]);
        li.appendChild(span);
      });
      list.appendChild(li);
    });
    els.timingsShards.replaceChildren(list);
    els.timings.hidden = false;
  }

  function renderSummary(total, took) {
    var s = plural(total, 'result', 'results');
    if (isFinite(took)) s += ' (took ' + fmt(Math.round(took)) + ' ms)';
    els.summary.textContent = s;
  }

  // The states of a shard that did not answer, as the page words them.
  var STATE_TEXT = {
    answered: 'answered',
    timed_out: 'timed out',
    failed: 'failed',
    unavailable: 'no live copy',
    behind: 'not up to date with your writes'
  };

  // pct words a coverage percentage the way the page shows it: rounded
  // down to one decimal, so a partial answer never reads 100%.
  function pct(p) {
    var v = Math.floor(num(p, 0) * 10) / 10;
    return (v === Math.floor(v) ? String(v) : v.toFixed(1)) + '%';
  }

  function failureText(f) {
    if (!f || typeof f !== 'object') return '';
    var shard = f.shard !== undefined && f.shard !== null ? 'shard ' + text(f.shard) : 'a shard';
    var state = STATE_TEXT[text(f.state)] || text(f.state);
    var detail = [text(f.node), text(f.reason)].filter(Boolean).join(': ');
    var out = shard + (state ? ': ' + state : '');
    return detail ? out + ' (' + detail + ')' : out;
  }

  // coverageText is "results from 87% of documents; 1 shard did not
  // answer", from an answer's coverage and shard account.
  function coverageText(coverage, shards) {
    var sh = shards && typeof shards === 'object' ? shards : {};
    var failed = num(sh.failed, NaN);
    var missing = isFinite(failed) ? plural(failed, 'shard', 'shards') + ' did not answer' : 'some shards did not answer';
    var cov = coverage && typeof coverage === 'object' ? coverage : null;
    if (!cov || !isFinite(num(cov.percent, NaN))) return missing;
    return 'results from ' + pct(cov.percent) + ' of documents; ' + missing;
  }

  // shardList lists the shards that did not answer, each with its state.
  function shardList(shards) {
    var sh = shards && typeof shards === 'object' ? shards : {};
    var ul = el('ul', 'shard-states');
    (Array.isArray(sh.failures) ? sh.failures : []).forEach(function (f) {
      var t = failureText(f);
      if (!t) return;
      var li = el('li', 'shard-state', t);
      li.setAttribute('data-shard', text(f.shard));
      li.setAttribute('data-state', text(f.state));
      ul.appendChild(li);
    });
    return ul;
  }

  // approxText says whose figures an answer's scores miss ("" when they
  // are exact, or when the search scores nothing).
  function approxText(stats) {
    if (!stats || typeof stats !== 'object' || stats.exact !== false) return '';
    var missing = Array.isArray(stats.missing) ? stats.missing.map(text) : [];
    var stale = Array.isArray(stats.stale) ? stats.stale.map(text) : [];
    var parts = [];
    if (missing.length) parts.push('leave out ' + (missing.length === 1 ? 'shard ' : 'shards ') + missing.join(', '));
    if (stale.length) parts.push('count ' + (stale.length === 1 ? 'shard ' : 'shards ') + stale.join(', ') + ' as of an earlier state');
    return ' Scores are approximate: the ranking statistics ' + (parts.length ? parts.join(' and ') : 'are incomplete') + '.';
  }

  function renderPartial(body) {
    var partial = body.partial === true;
    var timedOut = body.timed_out === true;
    var approx = approxText(body.statistics);
    if (!partial && !timedOut && !approx) {
      els.partial.hidden = true;
      els.partial.replaceChildren();
      return;
    }
    var f = document.createDocumentFragment();
    if (partial) {
      var summary = coverageText(body.coverage, body.shards);
      var title = el('strong', 'notice-title', summary.charAt(0).toUpperCase() + summary.slice(1) + '.');
      title.title = 'The share of the index\'s documents held by the shards that answered (the answer\'s "coverage"); ' +
        'each shard that did not is listed with its state (the answer\'s "shards.failures").';
      f.appendChild(title);
      if (timedOut) f.appendChild(el('span', 'notice-text', ' The search timed out before every shard answered.'));
      f.appendChild(shardList(body.shards));
    } else if (timedOut) {
      f.appendChild(el('span', 'notice-text', 'The search timed out; results may be incomplete.'));
    }
    if (approx) {
      var note = el('span', 'notice-text notice-approx', approx.trim());
      note.title = 'The answer\'s "statistics": the shards whose document counts and term frequencies the scores were worked out with.';
      f.appendChild(note);
    }
    els.partial.replaceChildren(f);
    els.partial.hidden = false;
  }

  function renderHits(s, hits) {
    var frag = document.createDocumentFragment();
    hits.forEach(function (hit) { if (hit && typeof hit === 'object') frag.appendChild(renderHit(hit)); });
    els.results.replaceChildren(frag);
    els.results.setAttribute('start', String((s.page - 1) * PAGE_SIZE + 1));
  }

  function renderHit(hit) {
    var id = text(hit.id);
    var fields = hit.fields && typeof hit.fields === 'object' ? hit.fields : {};
    var fragments = hit.fragments && typeof hit.fragments === 'object' ? hit.fragments : {};

    var li = el('li', 'hit');
    li.setAttribute('data-id', id);

    var head = el('div', 'hit-head');
    var title = el('h2', 'hit-title', text(fields.title) || id || '(untitled)');
    head.appendChild(title);
    var score = num(hit.score, NaN);
    var scoreEl = el('span', 'hit-score', isFinite(score) ? score.toFixed(2) : '–');
    scoreEl.title = 'Relevance score';
    head.appendChild(scoreEl);
    li.appendChild(head);

    var meta = el('div', 'hit-meta');
    meta.appendChild(el('code', 'hit-id', id));
    BADGE_FIELDS.forEach(function (name) {
      values(fields[name]).forEach(function (v) {
        var b = el('span', 'badge badge-' + name, v);
        b.setAttribute('data-field', name);
        b.title = name + ': ' + v;
        meta.appendChild(b);
      });
    });
    li.appendChild(meta);

    var snippet = el('p', 'hit-snippet');
    var bodyFr = Array.isArray(fragments.body) ? fragments.body : [];
    var titleFr = Array.isArray(fragments.title) ? fragments.title : [];
    if (bodyFr.length) appendFragments(snippet, bodyFr.slice(0, MAX_FRAGMENTS));
    else if (titleFr.length) appendFragments(snippet, titleFr.slice(0, MAX_FRAGMENTS));
    else snippet.textContent = truncate(text(fields.body), SNIPPET_CHARS);
    if (!snippet.textContent.trim()) snippet.hidden = true;
    li.appendChild(snippet);
    return li;
  }

  function lastWord(q) {
    var words = q.trim().split(/\s+/);
    var w = words[words.length - 1] || '';
    return /^[\p{L}\p{N}_]{3,}$/u.test(w) ? w : '';
  }

  function renderEmpty(s, total, shown) {
    if (shown > 0) {
      els.empty.hidden = true;
      els.empty.replaceChildren();
      return;
    }
    var box = document.createDocumentFragment();
    if (total > 0) {
      var last = Math.max(1, Math.ceil(total / PAGE_SIZE));
      box.appendChild(el('h2', 'empty-title', 'Page ' + fmt(s.page) + ' is past the end of the results'));
      box.appendChild(el('p', null, 'There are ' + plural(total, 'result', 'results') + ' on ' + plural(last, 'page', 'pages') + '.'));
      var go = el('button', 'btn', 'Go to page ' + fmt(last));
      go.type = 'button';
      go.setAttribute('data-goto-page', String(last));
      box.appendChild(go);
    } else {
      var q = s.q.trim();
      var title = q ? 'No results for “' + q + '”' : (s.filters.length ? 'No documents match these filters' : 'No documents in this index yet');
      box.appendChild(el('h2', 'empty-title', title));
      var tips = el('ul', 'tips');
      if (q) {
        tips.appendChild(el('li', null, 'Check the spelling of your search terms.'));
        tips.appendChild(el('li', null, 'Try fewer or more general words.'));
        var w = lastWord(q);
        var li = el('li');
        li.appendChild(document.createTextNode('Try a prefix query like '));
        li.appendChild(suggestion(w ? replaceLastWord(q, w + '*') : 'clie*', w ? w + '*' : 'clie*'));
        li.appendChild(document.createTextNode(' or a fuzzy query like '));
        li.appendChild(suggestion(w ? replaceLastWord(q, w + '~1') : 'clinet~1', w ? w + '~1' : 'clinet~1'));
        li.appendChild(document.createTextNode('.'));
        tips.appendChild(li);
      }
      if (s.filters.length) {
        var fl = el('li');
        fl.appendChild(document.createTextNode(s.filters.length === 1 ? 'Remove the filter. ' : 'Remove some of the ' + s.filters.length + ' filters. '));
        var clear = el('button', 'btn btn-small clear-filters', 'Clear filters');
        clear.type = 'button';
        clear.id = 'clear-filters';
        fl.appendChild(clear);
        tips.appendChild(fl);
      }
      if (tips.childNodes.length) box.appendChild(tips);
    }
    els.empty.replaceChildren(box);
    els.empty.hidden = false;
  }

  function replaceLastWord(q, replacement) {
    return q.trim().replace(/\S+$/, replacement);
  }

  function suggestion(query, label) {
    var b = el('button', 'suggest', label);
    b.type = 'button';
    b.setAttribute('data-query', query);
    b.title = 'Search for ' + query;
    return b;
  }

  function pageButton(n, current) {
    var b = el('button', 'page', fmt(n));
    b.type = 'button';
    b.setAttribute('data-page', String(n));
    b.setAttribute('aria-label', 'Page ' + n);
    if (n === current) b.setAttribute('aria-current', 'page');
    return b;
  }

  function renderPager(s, total) {
    keepFocus(els.pager, function () {
      var pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
      var cur = s.page;
      lastPages = pages;
      if (pages <= 1 && cur <= 1) {
        els.pager.replaceChildren();
        els.pager.hidden = true;
        return;
      }
      var f = document.createDocumentFragment();
      var prev = el('button', 'btn pager-step', '‹ Previous');
      prev.type = 'button';
      prev.id = 'prev';
      prev.setAttribute('aria-label', 'Previous page');
      prev.disabled = cur <= 1;
      f.appendChild(prev);

      var list = el('span', 'pages');
      var start = Math.max(1, Math.min(cur, pages) - PAGE_WINDOW);
      var end = Math.min(pages, Math.max(cur, 1) + PAGE_WINDOW);
      // Keep the window a constant width near the edges.
      if (end - start < 2 * PAGE_WINDOW) {
        if (start === 1) end = Math.min(pages, start + 2 * PAGE_WINDOW);
        else if (end === pages) start = Math.max(1, end - 2 * PAGE_WINDOW);
      }
      if (start > 1) {
        list.appendChild(pageButton(1, cur));
        if (start > 2) list.appendChild(el('span', 'gap', '…'));
      }
      for (var n = start; n <= end; n++) list.appendChild(pageButton(n, cur));
      if (end < pages) {
        if (end < pages - 1) list.appendChild(el('span', 'gap', '…'));
        list.appendChild(pageButton(pages, cur));
      }
      f.appendChild(list);

      var next = el('button', 'btn pager-step', 'Next ›');
      next.type = 'button';
      next.id = 'next';
      next.setAttribute('aria-label', 'Next page');
      next.disabled = cur >= pages;
      f.appendChild(next);

      els.pager.replaceChildren(f);
      els.pager.hidden = false;
    }, function (a) {
      return a.id || (a.getAttribute('data-page') ? 'p' + a.getAttribute('data-page') : null);
    }, function (key) {
      if (key === 'prev' || key === 'next') {
        var b = $(key);
        return b && !b.disabled ? b : els.pager.querySelector('.page[aria-current="page"]');
      }
      return els.pager.querySelector('.page[data-page="' + key.slice(1) + '"]');
    });
  }

  function renderFacets(s, info, respFacets) {
    var defs = facetDefs(info);
    var names = Object.keys(defs);
    els.sidebar.hidden = names.length === 0;
    els.layout.classList.toggle('no-facets', names.length === 0);
    keepFocus(els.facets, function () {
      var frag = document.createDocumentFragment();
      names.forEach(function (name, i) {
        var r = respFacets && typeof respFacets === 'object' ? respFacets[name] : null;
        var block = el('section', 'facet');
        block.setAttribute('data-facet', name);
        var headingId = 'facet-' + i + '-' + name.replace(/[^A-Za-z0-9_-]/g, '_');
        var h = el('h3', 'facet-title', name);
        h.id = headingId;
        block.appendChild(h);

        var terms = r && Array.isArray(r.terms) ? r.terms.filter(function (t) { return t && t.term !== undefined && t.term !== null; }) : [];
        terms = terms.map(function (t) { return { term: text(t.term), count: num(t.count, null) }; });
        // Active filters always stay visible (and removable) in their block.
        s.filters.slice().reverse().forEach(function (f) {
          if (f.facet === name && !terms.some(function (t) { return t.term === f.term; })) terms.unshift({ term: f.term, count: null });
        });

        if (!terms.length) {
          block.appendChild(el('p', 'facet-empty', r ? 'No values in these results' : 'No values'));
        } else {
          var ul = el('ul', 'facet-terms');
          ul.setAttribute('aria-labelledby', headingId);
          terms.forEach(function (t) {
            var li = el('li');
            var b = el('button', 'facet-term');
            b.type = 'button';
            b.setAttribute('data-facet', name);
            b.setAttribute('data-term', t.term);
            b.setAttribute('aria-pressed', hasFilter(s, name, t.term) ? 'true' : 'false');
            b.appendChild(el('span', 'facet-term-label', t.term));
            if (t.count !== null) b.appendChild(el('span', 'facet-count', fmt(t.count)));
            b.title = (hasFilter(s, name, t.term) ? 'Remove filter ' : 'Filter by ') + name + ': ' + t.term;
            li.appendChild(b);
            ul.appendChild(li);
          });
          block.appendChild(ul);
        }
        var other = r ? num(r.other, 0) : 0;
        if (other > 0) block.appendChild(el('p', 'facet-other', '+ ' + fmt(other) + ' in other values'));
        frag.appendChild(block);
      });
      els.facets.replaceChildren(frag);
    }, function (a) {
      return a.classList.contains('facet-term') ? [a.getAttribute('data-facet'), a.getAttribute('data-term')] : null;
    }, function (key) {
      var found = null;
      els.facets.querySelectorAll('.facet-term').forEach(function (b) {
        if (!found && b.getAttribute('data-facet') === key[0] && b.getAttribute('data-term') === key[1]) found = b;
      });
      return found;
    });
  }

  // markActiveTerms updates the pressed state of existing facet buttons right
  // away (before the response arrives) so clicks feel instant.
  function markActiveTerms(s) {
    els.facets.querySelectorAll('.facet-term').forEach(function (b) {
      var on = hasFilter(s, b.getAttribute('data-facet'), b.getAttribute('data-term'));
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
  }

  function renderChips(s) {
    els.filterCount.textContent = s.filters.length ? '(' + s.filters.length + ')' : '';
    keepFocus(els.filters, function () {
      var frag = document.createDocumentFragment();
      s.filters.forEach(function (f) {
        var chip = el('button', 'chip');
        chip.type = 'button';
        chip.setAttribute('data-facet', f.facet);
        chip.setAttribute('data-term', f.term);
        chip.setAttribute('aria-label', 'Remove filter ' + f.facet + ': ' + f.term);
        chip.appendChild(el('span', 'chip-label', f.facet + ': ' + f.term));
        var x = el('span', 'chip-x', ' ✕');
        x.setAttribute('aria-hidden', 'true');
        chip.appendChild(x);
        frag.appendChild(chip);
      });
      if (s.filters.length > 1) {
        var all = el('button', 'chip-clear-all', 'Clear all');
        all.type = 'button';
        frag.appendChild(all);
      }
      els.filters.replaceChildren(frag);
      els.filters.hidden = s.filters.length === 0;
    }, function (a) {
      return a.classList.contains('chip') ? 'chip' : null;
    }, function () {
      return els.filters.querySelector('.chip') || els.q;
    });
  }

  // clearResults removes the previous answer after a failed search so stale
  // hits are not mistaken for results of the new query. The form, facets and
  // filter chips stay usable.
  function clearResults() {
    renderTimings(null);
    els.summary.textContent = '';
    els.partial.hidden = true;
    els.partial.replaceChildren();
    els.results.replaceChildren();
    els.empty.hidden = true;
    els.empty.replaceChildren();
    els.pager.hidden = true;
    els.pager.replaceChildren();
    lastPages = 0;
  }

  function hideError() {
    els.error.hidden = true;
    els.error.replaceChildren();
    els.keyForm.hidden = true;
  }

  function errorTitle(e) {
    if (e.title) return e.title;
    if (e.status === 401) return 'An API key is needed';
    if (e.status === 403) return 'This API key may not search here';
    if (e.status === 429) return 'Too many searches';
    if (e.status === 400 || /parse/i.test(e.type)) return 'There is a problem with the query';
    if (e.status === 404) return 'Not found';
    if (e.status === 503) return 'Search is unavailable right now';
    if (e.status >= 500) return 'The search service had a problem';
    return 'Search failed';
  }

  // showKeyForm asks for an API key when the server refused the request
  // for want of one (401), or the pasted one is not allowed (403).
  function showKeyForm(e) {
    var need = e instanceof ApiError && (e.status === 401 || e.status === 403);
    els.keyForm.hidden = !need;
    if (need) els.key.value = '';
  }

  function showError(e) {
    if (!(e instanceof ApiError)) {
      e = new ApiError(e && e.message ? String(e.message) : 'Something went wrong.', {});
    }
    showKeyForm(e);
    var f = document.createDocumentFragment();
    f.appendChild(el('strong', 'notice-title', errorTitle(e) + ':'));
    f.appendChild(el('span', 'notice-text', ' ' + e.message));
    if (e.shards) {
      var summary = coverageText(e.coverage, e.shards);
      f.appendChild(el('span', 'notice-text', ' ' + summary.charAt(0).toUpperCase() + summary.slice(1) + '.'));
      f.appendChild(shardList(e.shards));
    }
    var meta = [];
    if (e.type) meta.push(e.type);
    if (e.status) meta.push('HTTP ' + e.status);
    if (meta.length) f.appendChild(el('span', 'notice-meta', meta.join(' · ')));
    els.error.replaceChildren(f);
    els.error.hidden = false;
  }

  // ----------------------------------------------------------------- indexes

  function chooseIndex(wanted) {
    var names = (indexList || []).map(function (x) { return x.name; });
    if (!names.length) return wanted || 'sample';
    if (wanted && names.indexOf(wanted) >= 0) return wanted;
    if (names.indexOf('sample') >= 0) return 'sample';
    return names[0];
  }

  function populateIndexes() {
    var list = indexList || [];
    var frag = document.createDocumentFragment();
    list.forEach(function (x) {
      var o = el('option', null, x.name + (isFinite(num(x.docs, NaN)) ? ' (' + fmt(num(x.docs, 0)) + ' docs)' : ''));
      o.value = x.name;
      frag.appendChild(o);
    });
    els.index.replaceChildren(frag);
    els.indexField.hidden = list.length <= 1;
  }

  // ------------------------------------------------------------------ events

  function isTypingTarget(t) {
    if (!t || !t.tagName) return false;
    return t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName);
  }

  function bind() {
    els.keyForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var key = els.key.value.trim();
      if (!key) return;
      try { sessionStorage.setItem(KEY_STORAGE, key); } catch (err) { /* private mode: no key kept */ }
      location.reload();
    });

    els.form.addEventListener('submit', function (e) {
      e.preventDefault();
      var changes = { q: els.q.value.trim(), page: 1 };
      if (!els.indexField.hidden && els.index.value) changes.index = els.index.value;
      newSearch(changes);
    });

    els.index.addEventListener('change', function () {
      if (!els.index.value || els.index.value === state.index) return;
      // Facets differ between indexes, so filters do not carry over.
      newSearch({ index: els.index.value, q: els.q.value.trim(), page: 1, filters: [] });
    });

    els.facets.addEventListener('click', function (e) {
      var b = e.target.closest('.facet-term');
      if (!b || !els.facets.contains(b)) return;
      toggleFilter(b.getAttribute('data-facet'), b.getAttribute('data-term'));
    });

    els.filters.addEventListener('click', function (e) {
      var chip = e.target.closest('.chip');
      if (chip && els.filters.contains(chip)) {
        toggleFilter(chip.getAttribute('data-facet'), chip.getAttribute('data-term'));
        return;
      }
      if (e.target.closest('.chip-clear-all')) clearFilters();
    });

    els.pager.addEventListener('click', function (e) {
      var b = e.target.closest('button');
      if (!b || b.disabled || !els.pager.contains(b)) return;
      var page = state.page;
      if (b.id === 'prev') page = Math.max(1, Math.min(state.page - 1, lastPages || state.page - 1));
      else if (b.id === 'next') page = state.page + 1;
      else if (b.hasAttribute('data-page')) page = parseInt(b.getAttribute('data-page'), 10);
      if (!isFinite(page) || page < 1 || page === state.page) return;
      newSearch({ page: page });
      scrollToTop();
    });

    els.empty.addEventListener('click', function (e) {
      var b = e.target.closest('button');
      if (!b) return;
      if (b.id === 'clear-filters') {
        clearFilters();
      } else if (b.hasAttribute('data-query')) {
        els.q.value = b.getAttribute('data-query');
        newSearch({ q: els.q.value, page: 1 });
      } else if (b.hasAttribute('data-goto-page')) {
        newSearch({ page: parseInt(b.getAttribute('data-goto-page'), 10) || 1 });
      }
    });

    document.addEventListener('keydown', function (e) {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
      if (isTypingTarget(e.target)) return;
      e.preventDefault();
      els.q.focus();
      els.q.select();
    });

    window.addEventListener('popstate', function () {
      var s = stateFromURL();
      s.index = chooseIndex(s.index);
      runSearch(s, 'none');
    });

    // Facets sit in a <details>: always open on wide screens, collapsed by
    // default on narrow ones.
    els.details.open = !narrow.matches;
    var onMedia = function (m) { els.details.open = !m.matches; };
    if (narrow.addEventListener) narrow.addEventListener('change', onMedia);
    else if (narrow.addListener) narrow.addListener(onMedia);
  }

  function scrollToTop() {
    var top = els.layout.getBoundingClientRect().top;
    if (top < 0) window.scrollTo(0, 0);
  }

  async function boot() {
    bind();
    setBusy(true);
    var s = stateFromURL();
    els.q.value = s.q;
    els.q.focus();
    try {
      var body = await fetchJSON('/v1/indexes', null,
        typeof AbortSignal !== 'undefined' && AbortSignal.timeout ? AbortSignal.timeout(CLIENT_TIMEOUT_MS) : undefined);
      indexList = (Array.isArray(body.indexes) ? body.indexes : [])
        .filter(function (x) { return x && typeof x.name === 'string' && x.name; });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        showError(e);
        setBusy(false);
        return;
      }
      indexList = null; // unknown; fall back to the URL's index or "sample"
    }
    if (indexList && indexList.length === 0) {
      populateIndexes();
      showError(new ApiError('This cluster has no indexes yet. Create one (for example the built-in “sample” index) and reload the page.', { title: 'No indexes' }));
      els.summary.textContent = '';
      setBusy(false);
      return;
    }
    s.index = chooseIndex(s.index);
    populateIndexes();
    await runSearch(s, 'replace');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
