// The scopecast chat page: the chat client (client.js, inlined before this)
// in the room named by the page's path.
(() => {
  const room = location.pathname.replace(/\/+$/, '') || '/chat';
  document.getElementById('room').textContent = room;
  scopecastChat({ room, protocols: true, status: (text) => { document.getElementById('status').textContent = text; } });
})();
