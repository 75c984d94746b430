// The browser's Socket.IO connection, held by heavylift's hub (not by the
// API): WebSocket transport only, the session JWT in the CONNECT payload.
import { io } from 'socket.io-client';

export function connectLive(realtimeUrl, token, onStatus) {
  const socket = io(realtimeUrl, { transports: ['websocket'], auth: { token } });
  socket.on('connect', async () => {
    const answer = await socket.emitWithAck('heavylift:join', 'activity');
    onStatus(answer.ok ? 'live' : `refused: ${answer.error}`);
  });
  socket.on('disconnect', () => onStatus('reconnecting'));
  socket.on('connect_error', (error) => onStatus(`offline: ${error.message}`));
  return socket;
}
