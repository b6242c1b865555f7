/* duban PC dashboard (/?token=T): headline figures and departments from the websocket, a
 * filtered, paged item list from GET /api/items, re-fetched (at most once a second) after
 * every applied websocket message so it stays live. Filters live in the page URL. */
(function () {
  'use strict';

  var D = window.Duban;
  var el = D.el;
  var setText = D.setText;
  var LIMIT = 50;
  var FILTERS = ['department', 'stage', 'grade', 'project', 'status'];

  var main = document.getElementById('main');
  var form = document.getElementById('filters');
  var $items = document.getElementById('items');
  var tbody = $items.tBodies[0];
  var totalNode = document.getElementById('total');
  var stateNode = document.getElementById('list-state');
  var pageInfo = document.getElementById('page-info');
  var prevBtn = document.getElementById('prev');
  var nextBtn = document.getElementById('next');
  var deptList = document.getElementById('dept-list');
  var deptSelect = form.elements.department;
  document.getElementById('ledger-link').href = D.withToken('/ledger');
  document.getElementById('deliveries-link').href = D.withToken('/audit/deliveries');
  document.getElementById('rankings-link').href = D.withToken('/rankings');
  var headFields = {};
  Array.prototype.forEach.call(document.querySelectorAll('#headline [data-field]'), function (n) {
    headFields[n.dataset.field] = n;
  });

  /* ---------- filter state (from and to the URL) ---------- */
  var state = { department: '', stage: '', grade: '', project: '', status: 'open', offset: 0 };
  FILTERS.forEach(function (k) {
    if (D.params.has(k)) state[k] = D.params.get(k) || '';
  });
  state.offset = Math.max(0, parseInt(D.params.get('offset'), 10) || 0);

  function ensureOption(select, value, label) {
    if (!value) return;
    for (var i = 0; i < select.options.length; i++) if (select.options[i].value === value) return;
    select.appendChild(new Option(label || value, value));
  }
  function toForm() {
    ensureOption(deptSelect, state.department);
    FILTERS.forEach(function (k) { form.elements[k].value = state[k]; });
  }
  function syncUrl() {
    var qs = new URLSearchParams();
    if (D.token) qs.set('token', D.token);
    ['department', 'stage', 'grade', 'project'].forEach(function (k) {
      if (state[k]) qs.set(k, state[k]);
    });
    if (state.status !== 'open') qs.set('status', state.status);   // "" = every status
    if (state.offset) qs.set('offset', String(state.offset));
    history.replaceState(null, '', location.pathname + '?' + qs.toString());
    D.rememberList();
  }
  toForm();
  D.rememberList();

  /* ---------- the list ---------- */
  var inflight = null;
  var unauthorized = false;

  function setListState(s, text) {
    document.body.dataset.list = s;
    setText(stateNode, text || '');
  }

  function load() {
    if (unauthorized) return;
    if (inflight) inflight.abort();   // only the newest answer may land
    var ctrl = new AbortController();
    inflight = ctrl;
    setListState('loading', '正在更新…');
    D.api('/api/items', {
      department: state.department, stage: state.stage, grade: state.grade,
      project: state.project.trim(), status: state.status, limit: LIMIT, offset: state.offset
    }, ctrl.signal).then(function (res) {
      if (inflight !== ctrl) return;
      inflight = null;
      var total = res.total || 0;
      if (state.offset > 0 && state.offset >= total) {
        // the list shrank under us: go to its last page
        state.offset = total ? Math.floor((total - 1) / LIMIT) * LIMIT : 0;
        syncUrl();
        load();
        return;
      }
      render(res);
      setListState('ready', '');
    }).catch(function (err) {
      if (err.name === 'AbortError' || inflight !== ctrl) return;
      inflight = null;
      if (err.status === 401) {
        unauthorized = true;
        D.showUnauthorized(main);
        setListState('unauthorized');
        if (live) live.unauthorized();
        return;
      }
      tbody.replaceChildren(emptyRow('加载失败：' + err.message + '（数据更新时将自动重试）'));
      setListState('error', '');
    });
  }
  var refresh = D.throttle(load, 1000);

  function emptyRow(text) {
    var tr = el('tr');
    var td = el('td', 'empty', text);
    td.colSpan = 9;
    tr.appendChild(td);
    return tr;
  }

  function cell(tr, cls, text) {
    var td = el('td', cls, text);
    tr.appendChild(td);
    return td;
  }

  function remainingCell(tr, it) {
    var text;
    var cls = 'n';
    if (it.status === 'withdrawn') {
      // Withdrawn by the applicant: nothing was late, whatever the clock says.
      text = '已撤回';
    } else if (it.status === 'finished') {
      text = typeof it.remaining === 'number' && it.remaining < 0
        ? '超期 ' + D.int(-it.remaining) + ' 个工作日' : '未超期';
      if (it.remaining < 0) cls += ' late';
    } else {
      text = D.remainingText(it);
      if (it.overdue || it.remaining < 0) cls += ' late';
      else if (it.remaining === 0) cls += ' due';
    }
    cell(tr, cls, text);
  }

  function render(res) {
    var items = Array.isArray(res.items) ? res.items : [];
    var total = res.total || 0;
    var rows = items.map(function (it) {
      var tr = el('tr', 'is-' + it.grade);
      tr.dataset.itemId = it.item_id;
      cell(tr, null).appendChild(D.gradeChip(it.grade, it.status));
      var p = cell(tr, 'clip');
      p.appendChild(el('span', null, it.project_name || '（未命名项目）'));
      p.appendChild(el('span', 'sub', it.project_code));
      p.title = (it.project_name || '') + '\n' + it.project_code;
      var m = cell(tr, 'clip');
      var a = el('a', null, it.matter);
      a.href = D.withToken('/item/' + encodeURIComponent(it.item_id));
      m.appendChild(a);
      m.appendChild(el('span', 'sub', it.item_id));
      m.title = it.matter;
      var dep = cell(tr, 'clip');
      dep.appendChild(el('span', null, it.department));
      dep.appendChild(el('span', 'sub', '第' + it.stage + '阶段 ' + D.stageName(it.stage)));
      dep.title = it.department;
      cell(tr, null, D.statusWord(it.status)).style.whiteSpace = 'nowrap';
      cell(tr, 'n col-ended', it.finished_at ? D.dateTime(it.finished_at) : '—');
      var deadline = cell(tr, 'n', it.deadline_date || '—');
      var tag = D.provisionalTag(it);
      if (tag) deadline.appendChild(tag);
      cell(tr, 'n', D.int(it.used) + ' / ' + D.int(it.allowed));
      remainingCell(tr, it);
      return tr;
    });
    if (!rows.length) rows.push(emptyRow('没有符合条件的办件'));
    // The finish column is for lists that hold ended items.
    $items.classList.toggle('open-only', ['open', 'pending', 'paused'].indexOf(state.status) >= 0);
    tbody.replaceChildren.apply(tbody, rows);
    setText(totalNode, '共 ' + D.int(total) + ' 件');
    var pages = Math.max(1, Math.ceil(total / LIMIT));
    var page = Math.floor(state.offset / LIMIT) + 1;
    setText(pageInfo, '第 ' + page + ' / ' + pages + ' 页');
    prevBtn.disabled = state.offset <= 0;
    nextBtn.disabled = state.offset + LIMIT >= total;
  }

  // One delegated listener: a click anywhere on a row opens the item.
  tbody.addEventListener('click', function (ev) {
    if (ev.target.closest('a')) return;
    var tr = ev.target.closest('tr[data-item-id]');
    if (tr && !String(window.getSelection())) {
      location.href = D.withToken('/item/' + encodeURIComponent(tr.dataset.itemId));
    }
  });

  function applyFilters() {
    FILTERS.forEach(function (k) { state[k] = form.elements[k].value; });
    state.offset = 0;
    syncUrl();
    markDept();
    load();
  }
  form.addEventListener('change', applyFilters);
  form.addEventListener('submit', function (ev) { ev.preventDefault(); applyFilters(); });
  // typing a project code: apply after a pause, not per key
  var typing = 0;
  form.elements.project.addEventListener('input', function () {
    clearTimeout(typing);
    typing = setTimeout(applyFilters, 500);
  });
  document.getElementById('reset').addEventListener('click', function () {
    state = { department: '', stage: '', grade: '', project: '', status: 'open', offset: 0 };
    toForm();
    applyFilters();
  });
  prevBtn.addEventListener('click', function () {
    state.offset = Math.max(0, state.offset - LIMIT);
    syncUrl();
    load();
  });
  nextBtn.addEventListener('click', function () {
    state.offset += LIMIT;
    syncUrl();
    load();
  });

  /* ---------- departments (from the websocket) ---------- */
  var deptNames = '';
  function renderDepartments(d) {
    var rows = Array.isArray(d.rows) ? d.rows : [];
    var items = rows.map(function (r) {
      var li = el('li', 'dept');
      li.dataset.department = r.name;
      var name = el('button', 'name', r.name);
      name.type = 'button';
      name.title = '只看 ' + r.name + ' 的办件';
      li.appendChild(name);
      var phone = el('a', 'phone', '手机页');
      phone.href = D.withToken('/m/dept/' + encodeURIComponent(r.id));
      li.appendChild(phone);
      var counts = el('div', 'counts');
      ['red', 'yellow', 'blue'].forEach(function (g) {
        var s = el('span', 'g-' + g);
        s.appendChild(el('i', 'dot'));
        s.appendChild(document.createTextNode(D.GRADE[g].full + ' '));
        s.appendChild(el('b', null, D.int(r[g])));
        counts.appendChild(s);
      });
      li.appendChild(counts);
      return li;
    });
    deptList.replaceChildren.apply(deptList, items);
    markDept();
    // the department filter's options: every name, in Chinese collation
    var names = rows.map(function (r) { return r.name; }).sort(function (a, b) { return a.localeCompare(b, 'zh-CN'); });
    var key = names.join('\n');
    if (key !== deptNames) {
      deptNames = key;
      var opts = [new Option('全部部门', '')];
      names.forEach(function (n) { opts.push(new Option(n, n)); });
      deptSelect.replaceChildren.apply(deptSelect, opts);
      ensureOption(deptSelect, state.department);
      deptSelect.value = state.department;
    }
  }
  function markDept() {
    Array.prototype.forEach.call(deptList.children, function (li) {
      li.classList.toggle('on', li.dataset.department === state.department);
    });
  }
  deptList.addEventListener('click', function (ev) {
    if (ev.target.closest('a')) return;
    var li = ev.target.closest('li[data-department]');
    if (!li) return;
    var name = li.dataset.department;
    ensureOption(deptSelect, name);
    deptSelect.value = state.department === name ? '' : name;
    applyFilters();
  });

  /* ---------- live ---------- */
  function onData(msg) {
    var panels = msg.panels || {};
    if (panels.headline) {
      var h = panels.headline;
      ['pending', 'overdue', 'finished_today', 'paused', 'finished_this_month'].forEach(function (k) {
        if (headFields[k]) setText(headFields[k], D.int(h[k]));
      });
      setText(headFields.on_time_rate, D.rate(h.on_time_rate));
    }
    if (panels.departments) renderDepartments(panels.departments);
  }

  var live = DubanLive.page(refresh, onData);
})();
