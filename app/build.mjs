// Builds the reps' app (src/) into dist/: one bundle (app.js) with
// WatermelonDB and README's sync client — taken from README.md as printed,
// between <!-- sync-client:begin --> and <!-- sync-client:end --> — and the
// static files; sw.js gets a cache name from a hash of the built files.
//   node build.mjs            build into dist/
//   node build.mjs --out DIR  build into DIR (the drift test compares it with dist/)
import * as esbuild from 'esbuild'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'

const here = path.dirname(fileURLToPath(import.meta.url))
const outIndex = process.argv.indexOf('--out')
const out = outIndex > 0 ? path.resolve(process.argv[outIndex + 1]) : path.join(here, 'dist')

const readmeClient = {
  name: 'rounds-sync',
  setup(build) {
    build.onResolve({ filter: /^rounds-sync$/ }, () => ({ path: 'rounds-sync', namespace: 'readme' }))
    build.onLoad({ filter: /.*/, namespace: 'readme' }, () => {
      const readme = fs.readFileSync(path.join(here, '..', 'README.md'), 'utf8')
      const m = readme.match(/<!-- sync-client:begin -->\s*```js\n([\s\S]*?)```\s*<!-- sync-client:end -->/)
      if (!m) throw new Error('README.md has no sync client between the markers')
      return { contents: m[1], loader: 'js', resolveDir: here }
    })
  },
}

fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })
await esbuild.build({
  entryPoints: [path.join(here, 'src', 'main.js')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  outfile: path.join(out, 'app.js'),
  plugins: [readmeClient],
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'none',
  logLevel: 'warning',
})
for (const f of ['index.html', 'app.css', 'manifest.webmanifest', 'icon.svg']) fs.copyFileSync(path.join(here, 'src', f), path.join(out, f))
const hash = createHash('sha256')
for (const f of ['index.html', 'app.js', 'app.css', 'manifest.webmanifest', 'icon.svg']) hash.update(fs.readFileSync(path.join(out, f)))
hash.update(fs.readFileSync(path.join(here, 'src', 'sw.js')))
const build = hash.digest('hex').slice(0, 12)
fs.writeFileSync(path.join(out, 'sw.js'), fs.readFileSync(path.join(here, 'src', 'sw.js'), 'utf8').replace("'rounds-app-BUILD'", `'rounds-app-${build}'`))
let total = 0
for (const f of fs.readdirSync(out)) total += zlib.gzipSync(fs.readFileSync(path.join(out, f)), { level: 9 }).length
console.log(`app built into ${path.relative(process.cwd(), out) || '.'}: build ${build}, ${(total / 1024).toFixed(1)} KB gzip in all`)
