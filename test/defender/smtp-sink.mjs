// A real SMTP server on loopback for tests, run as its own process: prints {"port":N} once
// listening and appends every accepted message as one JSON line to the file given as argv[2],
// with the credentials the client authenticated with (AUTH accepted over plain text here).
import { appendFileSync } from 'node:fs';
import { SMTPServer } from 'smtp-server';

const file = process.argv[2];
const server = new SMTPServer({
  authOptional: true,
  allowInsecureAuth: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onAuth(auth, session, callback) {
    callback(null, { user: { username: auth.username, password: auth.password } });
  },
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      const data = Buffer.concat(chunks).toString('utf8');
      // Unfold header lines and decode RFC 2047 Q/B words, so tests read the subject as sent.
      const headers = data.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
      const raw = /^Subject: (.*)$/im.exec(headers)?.[1] ?? '';
      const subject = raw.replace(/\?=\s+=\?/g, '?==?').replace(/=\?utf-8\?([qb])\?(.*?)\?=/gi, (_, enc, text) =>
        enc.toLowerCase() === 'b'
          ? Buffer.from(text, 'base64').toString('utf8')
          : Buffer.from(
              text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_m, h) => String.fromCharCode(parseInt(h, 16))),
              'latin1',
            ).toString('utf8'),
      );
      appendFileSync(
        file,
        JSON.stringify({
          from: session.envelope.mailFrom && session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          subject,
          auth: session.user ?? null,
          data,
        }) + '\n',
      );
      callback();
    });
  },
});
server.listen(0, '127.0.0.1', () =>
  process.stdout.write(JSON.stringify({ port: server.server.address().port }) + '\n'),
);
process.stdin.resume();
process.stdin.on('end', () => server.close(() => process.exit(0)));
