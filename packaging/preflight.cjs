// Runs first, on whatever Node.js the core has: checks what the agent needs before its ES-module
// code is loaded, then loads it. Written for old Node.js on purpose (var, no arrow functions, no
// import syntax), so that an outdated runtime still reads this far and says what is wrong.
'use strict';
var path = require('path');
var fs = require('fs');
var url = require('url');
var childProcess = require('child_process');

var MIN = [20, 19, 0];
var root = path.resolve(__dirname, '..');

function fail(message) {
  process.stderr.write('deploy-witness: ' + message + '\n');
  process.exit(2);
}

function versionOk(v) {
  var p = v.split('.').map(function (x) { return parseInt(x, 10) || 0; });
  for (var i = 0; i < MIN.length; i++) {
    if (p[i] !== MIN[i]) return p[i] > MIN[i];
  }
  return true;
}

// How aws-crt picks its native binary (dist/native/binding.js): <platform>-<arch>-<c runtime>,
// the c runtime being musl when `ldd --version` says so, glibc otherwise.
function cRuntime() {
  if (process.platform !== 'linux') return 'cruntime';
  try {
    var r = childProcess.spawnSync('ldd', ['--version'], { encoding: 'utf8' });
    var out = String(r.stdout || '') + String(r.stderr || '');
    return out.indexOf('musl') >= 0 ? 'musl' : 'glibc';
  } catch (e) {
    return 'glibc';
  }
}

function shipped() {
  var bin = path.join(root, 'node_modules', 'aws-crt', 'dist', 'bin');
  try {
    return fs.readdirSync(bin).filter(function (d) { return fs.existsSync(path.join(bin, d, 'aws-crt-nodejs.node')); });
  } catch (e) {
    return [];
  }
}

var version = process.versions.node;
if (!versionOk(version)) {
  fail('Node.js ' + MIN.join('.').replace(/\.0$/, '') + ' or newer is needed; ' + process.execPath + ' is ' + version +
    '. Install a current Node.js (Debian 12 and Raspberry Pi OS 12 ship 18: use the NodeSource packages or the official binaries).');
}

// The MQTT client (Greengrass IPC and direct MQTT) needs aws-crt's native part for this platform.
var command = process.argv[2];
if (command === 'run') {
  var platformDir = process.platform + '-' + process.arch + '-' + cRuntime();
  var have = shipped();
  if (have.indexOf(platformDir) < 0) {
    var why = process.arch === 'arm'
      ? 'this is 32-bit ARM, for which aws-crt (the MQTT client\'s native part) ships no binary: use a 64-bit OS (64-bit Raspberry Pi OS) and a 64-bit Node.js'
      : 'this package carries the aws-crt binary for ' + (have.join(', ') || 'no platform') + ' only: install the package built for ' + platformDir;
    fail('cannot run on ' + platformDir + ': ' + why + '.');
  }
}

// Hidden from the parser of old Node.js: `import()` is a syntax error before Node.js 10.
var load = new Function('specifier', 'return import(specifier)');
load(url.pathToFileURL(path.join(root, 'dist', 'src', 'cli', 'bin.js')).href).catch(function (err) {
  fail('cannot load the agent: ' + (err && err.stack ? err.stack : String(err)));
});
