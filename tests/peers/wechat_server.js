// A real Wechaty puppet service for Linli's end-to-end tests: the npm `wechaty-puppet-service`
// gRPC server with `wechaty-puppet-mock` behind it, on 127.0.0.1, plus a small HTTP control API
// so a test can make mock contacts talk and see what the bot sent.
//
//   node tests/peers/wechat_server.js --fixture FILE --grpc-port P --http-port Q --token T [--tls]
//
// FILE is JSON: {"bot": {"id", "name"}, "contacts": [{"id", "name"}], "rooms": [{"id", "topic",
// "members": [ids]}]}.  Room ids must contain "@" (like WeChat's "…@chatroom"): the mock tells
// rooms from contacts that way.  Prints "wechat-peer: ready grpc=P http=Q" when both listen.
//
// Control API (JSON in, JSON out):
//   GET  /state                   {loggedIn, userId, starts, sent}
//   POST /say   {talker, room | to, text | image [+ data], mentions: [ids]}   → {id}
//                 a mock contact says text (or sends an image, by file name; with `data`, base64,
//                 those bytes — else a one-pixel PNG) in a room or privately
//   POST /join  {room, members: [ids], inviter}                      → {}
//   POST /login                   logs the bot user in again (the client's start() stops the puppet,
//                                 and the mock logs out on stop; this server also does it by itself
//                                 every time the puppet starts)
//   POST /logout                  the account is logged out (as when someone logs it out on the phone)
//   POST /scan  {qrcode}          the puppet asks for a QR code to be scanned
//   GET  /sent?since=N            what the bot sent: [{n, conversationId, room, kind, text,
//                                 mentionIds, messageId, fileName, bytes, sha256}] (a file's size
//                                 and SHA-256 as the puppet received it)
//
// The process stops on SIGTERM/SIGINT (the restart test kills and starts it again on the same port).

import crypto from 'node:crypto'
import http from 'node:http'
import fs from 'node:fs'
import { PuppetServer, log as serviceLog } from 'wechaty-puppet-service'
import { PuppetMock, mock } from 'wechaty-puppet-mock'
import { FileBox } from 'file-box'
import * as PUPPET from 'wechaty-puppet'

function option (name, fallback) {
  const index = process.argv.indexOf(name)
  if (index === -1) return fallback
  return process.argv[index + 1]
}

const fixture = JSON.parse(fs.readFileSync(option('--fixture'), 'utf8'))
const grpcPort = Number(option('--grpc-port'))
const httpPort = Number(option('--http-port'))
const token = option('--token', 'linli_test_token')
const tls = process.argv.includes('--tls')

serviceLog.level(process.env.WECHATY_LOG || 'silent')

// A tiny valid JPEG-named PNG is enough: the mock types an image by its file name.
const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='

const mocker = new mock.Mocker()
const contacts = new Map()
const rooms = new Map()
for (const c of [fixture.bot, ...fixture.contacts]) {
  contacts.set(c.id, mocker.createContact({
    id: c.id, name: c.name, alias: '', friend: true, type: PUPPET.types.Contact.Individual,
  }))
}
for (const r of fixture.rooms) {
  rooms.set(r.id, mocker.createRoom({
    id: r.id, topic: r.topic, memberIdList: [...r.members], ownerId: r.members[0], adminIdList: [],
  }))
}
const bot = contacts.get(fixture.bot.id)

let starts = 0
// Every time the puppet starts (the client's start() calls Stop then Start), log the bot back in.
mocker.use(() => {
  starts += 1
  setTimeout(() => { if (!puppet.isLoggedIn) mocker.login(bot) }, 50)
  return () => {}
})

const puppet = new PuppetMock({ mocker })

// What the bot sends, as the puppet is asked to send it (the mock itself ignores mentions).
const sent = []
function record (entry) {
  entry.n = sent.length
  entry.room = /@/.test(entry.conversationId)
  sent.push(entry)
}
const originalText = puppet.messageSendText.bind(puppet)
puppet.messageSendText = async (conversationId, text, mentionIdList) => {
  if (!puppet.isLoggedIn) throw new Error('not logged in')
  record({ conversationId, kind: 'text', text, mentionIds: mentionIdList || [] })
  await originalText(conversationId, text)
  return undefined
}
const originalFile = puppet.messageSendFile.bind(puppet)
puppet.messageSendFile = async (conversationId, fileBox) => {
  if (!puppet.isLoggedIn) throw new Error('not logged in')
  const data = await fileBox.toBuffer()
  record({
    conversationId, kind: 'file', fileName: fileBox.name, text: '', mentionIds: [],
    bytes: data.length, sha256: crypto.createHash('sha256').update(data).digest('hex'),
  })
  await originalFile(conversationId, fileBox)
  return undefined
}
puppet.messageForward = async (conversationId, messageId) => {
  if (!puppet.isLoggedIn) throw new Error('not logged in')
  mocker.messagePayload(messageId) // throws for an unknown message, like a real puppet
  record({ conversationId, kind: 'forward', messageId, text: '', mentionIds: [] })
  return undefined
}

const server = new PuppetServer({
  endpoint: `127.0.0.1:${grpcPort}`,
  puppet,
  token,
  tls: { disable: !tls },
})

function conversation (body) {
  if (body.room) {
    const room = rooms.get(body.room)
    if (!room) throw new Error(`no room ${body.room}`)
    return room
  }
  const contact = contacts.get(body.to)
  if (!contact) throw new Error(`no contact ${body.to}`)
  return contact
}

function say (body) {
  const talker = contacts.get(body.talker)
  if (!talker) throw new Error(`no contact ${body.talker}`)
  if (!puppet.isLoggedIn) throw new Error('the bot is not logged in')
  const something = body.image
    ? FileBox.fromBase64(body.data || PIXEL, body.image)
    : body.text
  const mentions = (body.mentions || []).map(id => contacts.get(id))
  const before = new Set(mocker.cacheMessagePayload.keys())
  talker.say(something, mentions).to(conversation(body))
  const id = [...mocker.cacheMessagePayload.keys()].find(k => !before.has(k))
  return { id }
}

function join (body) {
  const room = rooms.get(body.room)
  if (!room) throw new Error(`no room ${body.room}`)
  const members = body.members.map(id => contacts.get(id))
  room.add(...members).by(contacts.get(body.inviter) || bot)
  return {}
}

const control = http.createServer((req, res) => {
  let raw = ''
  req.on('data', chunk => { raw += chunk })
  req.on('end', () => {
    let status = 200
    let out
    try {
      const url = new URL(req.url, 'http://127.0.0.1')
      const body = raw ? JSON.parse(raw) : {}
      if (req.method === 'GET' && url.pathname === '/state') {
        out = { loggedIn: puppet.isLoggedIn, userId: puppet.isLoggedIn ? puppet.currentUserId : null,
          starts, sent: sent.length }
      } else if (req.method === 'GET' && url.pathname === '/sent') {
        out = sent.slice(Number(url.searchParams.get('since') || 0))
      } else if (req.method === 'POST' && url.pathname === '/say') {
        out = say(body)
      } else if (req.method === 'POST' && url.pathname === '/join') {
        out = join(body)
      } else if (req.method === 'POST' && url.pathname === '/login') {
        if (!puppet.isLoggedIn) mocker.login(bot)
        out = { loggedIn: true }
      } else if (req.method === 'POST' && url.pathname === '/logout') {
        if (puppet.isLoggedIn) puppet.logout('logged out on the phone').catch(() => {})
        out = { loggedIn: false }
      } else if (req.method === 'POST' && url.pathname === '/scan') {
        mocker.scan(body.qrcode || 'https://login.weixin.qq.com/l/linli-test')
        out = {}
      } else {
        status = 404
        out = { error: `no route ${req.method} ${url.pathname}` }
      }
    } catch (e) {
      status = 400
      out = { error: String(e && e.message ? e.message : e) }
    }
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(out))
  })
})

async function main () {
  await server.start()
  await new Promise(resolve => control.listen(httpPort, '127.0.0.1', resolve))
  console.log(`wechat-peer: ready grpc=${grpcPort} http=${httpPort}`)
}

async function shutdown () {
  control.close()
  try { await server.stop() } catch (e) { /* stopping anyway */ }
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)

main().catch(e => {
  console.error('wechat-peer: failed to start:', e)
  process.exit(1)
})
