// The spec results of a Ginkgo JUnit report (critest's and the node e2e suite's).

export interface Case {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  message: string;
}

/** The spec results of a Ginkgo JUnit report. */
export function parseJunit(xml: string): Case[] {
  const out: Case[] = [];
  for (const m of xml.matchAll(/<testcase name="([^"]*)"[^>]*?status="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const name = m[1]!.replace(/&#34;|&quot;/g, '"').replace(/&#39;|&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    if (/^\[(BeforeSuite|AfterSuite|SynchronizedBeforeSuite|SynchronizedAfterSuite|ReportAfterSuite)\]/.test(name)) continue;
    const status = m[2] === 'passed' ? 'passed' : m[2] === 'skipped' || m[2] === 'pending' ? 'skipped' : 'failed';
    const message = /message="([^"]*)"/.exec(m[3] ?? '')?.[1] ?? '';
    out.push({ name, status, message: message.slice(0, 300) });
  }
  return out;
}
