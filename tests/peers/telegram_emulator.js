#!/usr/bin/env node
// Starts the telegram-test-api Bot API emulator (the published npm package, unchanged) on
// 127.0.0.1:<port>.  The package's README says `npm start`, but the published package has no
// bin/start, so the end-to-end tests start it from here:
//
//     node tests/peers/telegram_emulator.js --port 9000 [--host 127.0.0.1] [--store-timeout 3600]
//
// It prints one line `telegram-test-api: listening on http://HOST:PORT` on stdout once the server
// accepts connections, and stops cleanly on SIGTERM / SIGINT or when stdin closes (so a test that
// dies never leaves it running).  Its gaps with python-telegram-bot 22 are patched on the Python
// side, in tests/telegram_compat.py, never here and never in the bot.
'use strict';

const path = require('path');

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const port = Number(option('port', '9000'));
const host = option('host', '127.0.0.1');
// Seconds the emulator keeps messages nobody fetched (its default, 60 s, drops a slow test's history).
const storeTimeout = Number(option('store-timeout', '3600'));

if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write(`telegram_emulator: bad --port ${option('port')}\n`);
  process.exit(2);
}

// eslint-disable-next-line import/no-dynamic-require
const TelegramServer = require(path.join(__dirname, 'node_modules', 'telegram-test-api'));

const server = new TelegramServer({ port, host, storeTimeout });
let stopping = false;

async function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    await Promise.race([server.stop(), new Promise((resolve) => { setTimeout(resolve, 2000); })]);
  } finally {
    process.exit(code);
  }
}

process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));
process.stdin.on('end', () => stop(0));
process.stdin.on('error', () => stop(0));
process.stdin.resume();

server.start().then(() => {
  process.stdout.write(`telegram-test-api: listening on ${server.config.apiURL}\n`);
}).catch((error) => {
  process.stderr.write(`telegram_emulator: cannot start: ${error && error.message}\n`);
  process.exit(1);
});
