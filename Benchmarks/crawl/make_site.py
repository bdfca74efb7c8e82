#!/usr/bin/env python3
"""Generate a static site for the crawl benchmark, or print an nginx.conf.

Usage:
  python3 make_site.py OUTDIR [PAGES=20000] [LINKS=10] [SEED=1]
  python3 make_site.py --nginx-conf PORT ROOT PIDFILE > nginx.conf

The first form writes OUTDIR/p/0.html .. OUTDIR/p/<PAGES-1>.html. Each page is
a small (~2-4 KB) HTML document with about LINKS links to other pages, picked
pseudo-randomly from SEED, so the output is the same on every run. Each page
also has:
  - a link to page n+1 (so every page can be reached from /p/0.html),
  - two links with a fragment (/p/<m>.html#top), which point at pages already
    linked and must be treated as the same URL,
  - one relative link (<m>.html),
  - one external link (http://example.invalid/x) that a crawler must skip.

The second form prints a minimal nginx.conf that serves ROOT on
127.0.0.1:PORT. It leaves out `daemon`, so run it with
  nginx -c CONF -g 'daemon off;'
and it puts every temp path and the error log under ROOT, so nginx does not
need /var/lib/nginx when run as non-root.
"""
import os
import random
import sys

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
         "tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam "
         "quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
         "consequat duis aute irure in reprehenderit voluptate velit esse cillum "
         "fugiat nulla pariatur excepteur sint occaecat cupidatat non proident "
         "sunt culpa qui officia deserunt mollit anim id est laborum").split()


def sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
    return " ".join(words).capitalize() + "."


def paragraph(rng, links):
    """A paragraph of filler text; `links` (a list of <a> tags) go inside it."""
    parts = [sentence(rng) for _ in range(rng.randint(3, 5))]
    for tag in links:
        parts.insert(rng.randint(0, len(parts)), tag)
    return "<p>" + " ".join(parts) + "</p>"


def make_page(n, pages, links, rng):
    # links - 1 distinct random targets other than n; the n+1 link makes LINKS.
    k = max(min(links - 1, pages - 1), 0)
    sample = rng.sample(range(pages), min(k + 1, pages))
    targets = sorted([m for m in sample if m != n][:k])
    nxt = (n + 1) % pages
    tags = [f'<a href="/p/{m}.html">page {m}</a>' for m in targets]
    tags.append(f'<a href="/p/{nxt}.html">next</a>')
    for m in rng.sample(targets, min(2, len(targets))):
        tags.append(f'<a href="/p/{m}.html#top">top of {m}</a>')
    if targets:
        tags.append(f'<a href="{rng.choice(targets)}.html">related</a>')
    tags.append('<a href="http://example.invalid/x">elsewhere</a>')
    rng.shuffle(tags)

    # Spread the links over four paragraphs.
    chunks = [tags[i::4] for i in range(4)]
    body = "\n".join(paragraph(rng, c) for c in chunks)
    prev = (n - 1) % pages
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Page {n}</title>
</head>
<body>
<header id="top">
<h1>Page {n}</h1>
<nav><a href="/p/0.html">home</a> | <a href="/p/{prev}.html">previous</a> | <a href="/p/{nxt}.html">next</a></nav>
</header>
<main>
<article>
{body}
</article>
</main>
<footer><p>Generated page {n} of {pages}. {sentence(rng)}</p></footer>
</body>
</html>
"""


def make_site(outdir, pages, links, seed):
    os.makedirs(os.path.join(outdir, "p"), exist_ok=True)
    rng = random.Random(seed)
    total = 0
    for n in range(pages):
        data = make_page(n, pages, links, rng).encode()
        total += len(data)
        with open(os.path.join(outdir, "p", f"{n}.html"), "wb") as f:
            f.write(data)
    print(f"wrote {pages} pages to {outdir}/p, avg {total // pages} bytes",
          file=sys.stderr)


def nginx_conf(port, root, pidfile):
    root = os.path.abspath(root)
    tmp = os.path.join(root, "tmp")
    return f"""worker_processes 1;
error_log {root}/nginx-error.log warn;
pid {pidfile};

events {{
    worker_connections 4096;
}}

http {{
    types {{ text/html html; application/rss+xml xml; }}
    default_type application/octet-stream;
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    server {{
        listen 127.0.0.1:{port} reuseport;
        root {root};
    }}
}}
"""


def main(argv):
    if argv and argv[0] == "--nginx-conf":
        if len(argv) != 4:
            sys.exit(__doc__)
        port, root, pidfile = argv[1:]
        os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
        sys.stdout.write(nginx_conf(int(port), root, os.path.abspath(pidfile)))
        return
    if not 1 <= len(argv) <= 4 or argv[0].startswith("-"):
        sys.exit(__doc__)
    outdir = argv[0]
    pages = int(argv[1]) if len(argv) > 1 else 20000
    links = int(argv[2]) if len(argv) > 2 else 10
    seed = int(argv[3]) if len(argv) > 3 else 1
    make_site(outdir, pages, links, seed)


if __name__ == "__main__":
    main(sys.argv[1:])
