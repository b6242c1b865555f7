/* duban phone page (/m/dept/{id}?token=T): one department's counts by grade (from the
 * websocket's departments panel) and its open items (running or paused) worst first
 * (GET /api/items?department=NAME&status=open), re-fetched at most once a second after
 * every applied websocket message. */
(function () {
  'use strict';

  var D = window.Duban;
  D.rememberList();
  var el = D.el;
  var setText = D.setText;
  var STEP = 50;

  var match = /^\/m\/dept\/([^/]+)/.exec(location.pathname);
  var deptId = '';
  try { deptId = match ? decodeURIComponent(match[1]) : ''; } catch (e) { deptId = match ? match[1] : ''; }
  var deptName = deptId;   // the id is the name today; the panel row confirms it

  var main = document.getElementById('main');
  var list = document.getElementById('items');
  var more = document.getElementById('more');
  var totalNode = document.getElementById('total');
  var counts = {
    red: document.getElementById('count-red'),
    yellow: document.getElementById('count-yellow'),
    blue: document.getElementById('count-blue')
  };

  function showName() {
    setText(document.getElementById('dept-name'), deptName || '（未指定部门）');
    document.title = (deptName || '部门') + ' · 审批督办';
  }
  showName();

  var limit = STEP;
  var inflight = null;
  var stopped = false;

  function load() {
    if (stopped || !deptName) return;
    if (inflight) inflight.abort();
    var ctrl = new AbortController();
    inflight = ctrl;
    D.api('/api/items', { department: deptName, status: 'open', limit: limit, offset: 0 }, ctrl.signal)
      .then(function (res) {
        if (inflight !== ctrl) return;
        inflight = null;
        render(res);
        document.body.dataset.list = 'ready';
      })
      .catch(function (err) {
        if (err.name === 'AbortError' || inflight !== ctrl) return;
        inflight = null;
        if (err.status === 401) {
          stopped = true;
          D.showUnauthorized(main);
          document.body.dataset.list = 'unauthorized';
          if (live) live.unauthorized();
          return;
        }
        var li = el('li', 'notice notice-error');
        li.appendChild(el('p', null, '加载失败：' + err.message + '（数据更新时将自动重试）'));
        list.replaceChildren(li);
        document.body.dataset.list = 'error';
      });
  }
  var refresh = D.throttle(load, 1000);

  function card(it) {
    var li = el('li');
    var a = el('a', 'item-card g-' + it.grade);
    a.href = D.withToken('/item/' + encodeURIComponent(it.item_id));
    a.dataset.itemId = it.item_id;
    var top = el('div', 'top');
    top.appendChild(el('div', 'proj', it.project_name || it.project_code));
    top.appendChild(D.gradeChip(it.grade));
    a.appendChild(top);
    a.appendChild(el('div', 'matter', it.matter));
    var bottom = el('div', 'bottom');
    var cls = it.overdue || it.remaining < 0 ? 'late' : it.remaining === 0 ? 'due' : '';
    // A stopped clock is said so: the handler is waiting on the applicant or a procedure.
    var left = D.remainingText(it) + (it.paused ? ' · 暂停计时中' : '');
    bottom.appendChild(el('span', 'remaining ' + cls, left));
    var deadline = el('span', 'deadline', '截止 ' + (it.deadline_date || '—'));
    var tag = D.provisionalTag(it);
    if (tag) deadline.appendChild(tag);
    bottom.appendChild(deadline);
    a.appendChild(bottom);
    li.appendChild(a);
    return li;
  }

  function render(res) {
    var items = Array.isArray(res.items) ? res.items : [];
    var total = res.total || 0;
    var nodes = items.map(card);
    if (!nodes.length) {
      var li = el('li', 'notice');
      li.style.borderTopColor = 'var(--blue)';
      li.appendChild(el('p', null, '本部门目前没有在办件。如部门名称有误（须与审批系统中的全称一致，如“市城市管理局”），请核对链接。'));
      nodes.push(li);
    }
    list.replaceChildren.apply(list, nodes);
    setText(totalNode, items.length < total
      ? '共 ' + D.int(total) + ' 件，显示前 ' + D.int(items.length) + ' 件'
      : '共 ' + D.int(total) + ' 件');
    more.hidden = items.length >= total || limit >= 1000;
  }

  more.addEventListener('click', function () {
    limit = Math.min(1000, limit + STEP);
    load();
  });

  function onData(msg) {
    var d = (msg.panels || {}).departments;
    if (d && Array.isArray(d.rows)) {
      var row = null;
      d.rows.forEach(function (r) { if (r.id === deptId || (!row && r.name === deptId)) row = r; });
      if (row && row.name !== deptName) {
        deptName = row.name;
        showName();
      }
      ['red', 'yellow', 'blue'].forEach(function (g) {
        setText(counts[g], D.int(row ? row[g] || 0 : 0));
      });
    }
  }

  var live = DubanLive.page(refresh, onData);
})();
