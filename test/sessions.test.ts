import { expect } from 'chai';
import { deviceInWords } from '../src/utils/device.js';
import { en, ko } from './helpers/i18n.js';

const UA = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
};

describe('the device in words (User-Agent)', () => {
  it('names the browser with its major version and the system, in both languages', () => {
    expect(deviceInWords(UA.chromeWindows, en)).to.equal('Chrome 131 on Windows');
    expect(deviceInWords(UA.chromeWindows, ko)).to.equal(ko('sessions.device', { browser: 'Chrome 131', os: 'Windows' }));
    expect(deviceInWords(UA.safariIphone, en)).to.equal('Safari 17 on iOS');
    expect(deviceInWords(UA.firefoxLinux, en)).to.equal('Firefox 133 on Linux');
  });

  it('says "unknown device" when nothing is known, and keeps a made-up name short', () => {
    for (const ua of ['', '   ', 'curl/8.5.0', 'node']) {
      expect(deviceInWords(ua, en), ua).to.equal(en('sessions.unknownDevice'));
      expect(deviceInWords(ua, ko), ua).to.equal(ko('sessions.unknownDevice'));
    }
    expect(deviceInWords(`${'x'.repeat(200)}/1.0 (compatible)`, en).length).to.be.at.most(60);
  });
});
