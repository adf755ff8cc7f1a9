import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { freePort } from './daemon-process';

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  parsed: ParsedMail;
  messageId: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * A real SMTP server (the smtp-server package) on a local port that keeps what it
 * receives, parsed with mailparser. It can refuse recipients permanently (550) and be
 * stopped and started again on the same port, like a mail server that goes down.
 */
export async function startSmtpSink(options: { rejectRecipients?: RegExp } = {}) {
  const port = await freePort();
  const received: ReceivedMail[] = [];
  let server: SMTPServer | null = null;

  async function start(): Promise<void> {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // Down means down: open pooled connections are cut at once.
      closeTimeout: 50,
      onRcptTo(address: SMTPServerAddress, _session, callback) {
        if (options.rejectRecipients?.test(address.address)) {
          const error = Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected: User unknown`), { responseCode: 550 });
          callback(error);
          return;
        }
        callback();
      },
      onData(stream, session, callback) {
        simpleParser(stream)
          .then((parsed) => {
            received.push({
              envelope: { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((rcpt) => rcpt.address) },
              parsed,
              messageId: parsed.messageId ?? '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
            });
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
  }

  async function stop(): Promise<void> {
    const running = server;
    server = null;
    if (running) await new Promise<void>((resolve) => running.close(() => resolve()));
  }

  await start();
  return {
    port,
    received,
    /** Mail delivered to an address. */
    to: (address: string) => received.filter((mail) => mail.envelope.to.includes(address)),
    start,
    stop,
  };
}
export type SmtpSink = Awaited<ReturnType<typeof startSmtpSink>>;

/** Points the app's `smtp` configuration at the sink (or removes it). */
export function smtpConfigFor(sink: SmtpSink) {
  return { host: '127.0.0.1', port: sink.port, secure: false, requireTLS: false, verifyCertificate: true, from: 'Precision Service Desk <servicedesk@precision.example>', maxConnections: 2, timeout: '5s' };
}
