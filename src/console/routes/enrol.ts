/**
 * Certificate enrolment: the installed certificate and its expiry, the CSR to download (for the device's existing
 * key), and uploading the agency-signed certificate, which is installed only when every check passes. A change of
 * certificate is a ledger entry; the recorder signs with it from the next start.
 */
import { h, type Html } from '../html.js';
import type { Ctx, Route } from '../route.js';
import type { App } from '../app.js';
import { CertificateRefused } from '../../pki/identity.js';
import type { Key } from '../i18n.js';
import { csrfField } from './auth.js';
import { when } from '../times.js';

/** A certificate problem in the page's language: the kind as a sentence (the checker's English detail in its title). */
const issue = (ctx: Ctx, p: { kind: string; text: string }) =>
  ctx.lang === 'en' ? h`${p.text}` : h`<span title="${p.text}">${ctx.t(`cert.${p.kind}` as Key)}</span>`;

const DAY = 86400_000;

export function enrolRoutes(app: App): Route[] {
  const view = (ctx: Ctx, message?: { kind: 'error' | 'success'; text: string | Html }, status = 200) => {
    const { t } = ctx;
    const cur = app.deps.enrolment.current();
    const c = cur.cert;
    const days = c ? Math.floor((Date.parse(c.validTo) - app.now()) / DAY) : 0;
    return app.page(
      ctx,
      t('nav.enrol'),
      h`<div class="grid"><div class="card"><h2>${t('enrol.current')}</h2>${
        c
          ? h`<dl id="cert"><dt>${t('enrol.subject')}</dt><dd>${c.subject}</dd><dt>${t('enrol.issuer')}</dt><dd>${c.issuer}</dd>
<dt>${t('enrol.serial')}</dt><dd class="mono" id="cert-serial">${c.serial}</dd><dt>${t('enrol.validFrom')}</dt><dd>${when(ctx, c.validFrom)}</dd>
<dt>${t('enrol.validTo')}</dt><dd id="cert-valid-to" class="${days < 30 ? 'bad' : ''}">${when(ctx, c.validTo)}${t('enrol.daysLeft', { days })}</dd>
<dt>SHA-256</dt><dd class="mono">${c.fingerprint256}</dd></dl>`
          : ''
      }${cur.problems.map((p) => h`<p class="bad" data-problem="${p.kind}">${issue(ctx, p)}</p>`)}</div>
<div class="card"><h2>${t('enrol.console')}</h2><dl><dt>${t('enrol.tlsSource')}</dt><dd>${t(app.tls.source() === 'device' ? 'enrol.tlsDevice' : 'enrol.tlsSelf')}</dd>
<dt>SHA-256</dt><dd class="mono" id="console-fingerprint">${app.tls.fingerprint256()}</dd></dl></div></div>
<h2>${t('enrol.step1')}</h2><p>${t('enrol.step1Text')}</p>
<form method="post" action="/enrol/csr">${csrfField(ctx)}<button type="submit" id="download-csr">${t('enrol.download')}</button></form>
<h2>${t('enrol.step2')}</h2><p>${t('enrol.step2Text')}</p>
<form method="post" action="/enrol/cert">${csrfField(ctx)}<p><input type="file" accept=".pem,.crt,.cer" data-fill="cert-pem" id="cert-file"></p>
<textarea name="cert" id="cert-pem" rows="10" spellcheck="false" placeholder="-----BEGIN CERTIFICATE-----"></textarea>
<p><button type="submit" id="install-cert">${t('enrol.install')}</button></p></form>`,
      { status, ...(message ? { message } : {}) },
    );
  };
  return [
    { method: 'GET', path: '/enrol', access: 'user', api: false, handle: (ctx) => view(ctx) },
    {
      method: 'POST',
      path: '/enrol/csr',
      access: 'user',
      api: false,
      handle: (ctx) => {
        const csr = app.deps.enrolment.csr();
        app.deps.log.info('console: CSR downloaded', { user: ctx.user?.name });
        return { kind: 'bytes', type: 'application/pkcs10', body: csr, filename: `${app.deps.deviceId}.csr` };
      },
    },
    {
      method: 'POST',
      path: '/enrol/cert',
      access: 'user',
      api: false,
      handle: (ctx) => {
        try {
          const c = app.deps.enrolment.install(ctx.fields.cert ?? '');
          app.audit.certificateInstalled(ctx.user!.name, c);
          app.tls.reload();
          return view(ctx, { kind: 'success', text: ctx.t('enrol.installed', { validTo: when(ctx, c.validTo) }) });
        } catch (err) {
          if (err instanceof CertificateRefused) {
            return view(ctx, { kind: 'error', text: h`${ctx.t('enrol.refused')}${err.issues.map((i) => h`<br>${issue(ctx, i)}`)}` }, 400);
          }
          throw err;
        }
      },
    },
  ];
}
