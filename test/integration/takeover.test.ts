/**
 * Two clients with one certificate, against a real mosquitto that takes the certificate's name as the client id
 * (uplink-protocol.md §2): the broker drops the first when the second connects. A test of our own once ran a status
 * watcher with the receiver's certificate, and the two threw each other off for half a minute with nothing in either
 * log; a copied SD card or receiver folder does the same in the field. mosquitto 2.0 gives the dropped client no
 * reason, so the receiver tells by the pattern: connections closed soon after they were accepted, again and again.
 */
import { describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { makeCa } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { captureLogger, waitFor } from '../helpers/serial.js';
import { receiverMqttOptions } from '../helpers/mqtt-clients.js';
import { makeReceiver } from '../helpers/uplink-world.js';
import { Receiver } from '../../src/receiver/receiver.js';

const ca = makeCa();
const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:twin'] });

describe('a second client with the same certificate', () => {
  it('makes the receiver it throws off say so, naming the fix', async () => {
    const rx = makeReceiver(ca.dir, 'receiver:twin', broker.url, { protocolVersion: 5 });
    const { log, lines } = captureLogger();
    const r = new Receiver(rx.config, log);
    await r.start();
    await r.ready();
    const twin = await mqtt.connectAsync(broker.url, {
      ...receiverMqttOptions(rx.config.tls.cert, rx.config.tls.key, rx.config.agency.caCert),
      protocolVersion: 5,
      // It reconnects as the receiver does, so each throws the other off in turn.
      reconnectPeriod: 500,
    });
    try {
      const line = await waitFor(() => lines().find((l) => l.level === 'error' && l.msg.includes('certificate of its own')), 'the takeover error', 20_000);
      expect(line.msg).toContain("this receiver's connection");
      expect(line.closes).toBeGreaterThanOrEqual(3);
    } finally {
      await twin.endAsync(true);
      await r.stop();
    }
  }, 30_000);

  it('says nothing of it when the broker restarts under a receiver that is alone', async () => {
    // Control: one close soon after connecting (the broker restarted) is no pattern.
    const rx = makeReceiver(ca.dir, 'receiver:twin', broker.url, { protocolVersion: 5 });
    const { log, lines } = captureLogger();
    const r = new Receiver(rx.config, log);
    await r.start();
    await r.ready();
    try {
      await broker.restart();
      await waitFor(() => lines().filter((l) => l.msg === 'receiver ready').length >= 2, 'ready again', 15_000);
    } finally {
      await r.stop();
    }
    expect(lines().filter((l) => l.level === 'error')).toEqual([]);
  }, 30_000);
});
