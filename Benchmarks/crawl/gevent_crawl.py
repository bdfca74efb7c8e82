#!/usr/bin/env python3
"""gevent reference crawler for the crawl benchmark.

Usage: python3 gevent_crawl.py [--lxml] BASEURL [POOL=100] [LIMIT=20000]
  e.g. python3 gevent_crawl.py http://127.0.0.1:18080 100 20000
BASEURL is scheme://host:port; any path in it is ignored.

Starts at BASEURL/p/0.html and crawls every page of the same host that it can
reach (a site made by make_site.py), fetching at most LIMIT pages. POOL worker
greenlets (in a gevent.pool.Pool) each keep one keep-alive
http.client.HTTPConnection and take URLs from a shared queue, so at most POOL
fetches run at once. Links come from the regex href="([^"]+)" or, with
--lxml, from lxml's HTML parser (libxml2, the parser Evy's HTMLPage uses: it
decodes entities and ignores hrefs in comments and scripts, which the regex
does not); they are resolved with urljoin and their fragments dropped; links
to other hosts are skipped; each URL is fetched once.

Prints exactly one JSON line on stdout:
  {"name": "crawl", "source": "gevent" or "gevent-lxml", "value": PAGES_PER_SECOND,
   "unit": "pages/s", "pages": N, "errors": E, "seconds": S}
A page counts as an error if the request fails or its status is not 200.
"""
from gevent import monkey
monkey.patch_all()

import http.client
import json
import re
import sys
import time
from urllib.parse import urldefrag, urljoin, urlsplit

import gevent.pool
import gevent.queue

HREF = re.compile(rb'href="([^"]+)"')


def regex_links(body):
    return [m.group(1).decode() for m in HREF.finditer(body)]


def lxml_links(body):
    import lxml.html
    return lxml.html.fromstring(body).xpath("//a/@href")


def crawl(base, pool_size, limit, links):
    start_url = urljoin(base, "/p/0.html")
    origin = urlsplit(start_url)
    host, port = origin.hostname, origin.port or 80
    queue = gevent.queue.JoinableQueue()
    seen = {start_url}
    queue.put(start_url)
    stats = {"pages": 0, "errors": 0}

    def fetch(conn, url):
        """GET url on conn; return the body, or None if it failed."""
        parts = urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()  # read it all so the connection can be reused
        return body if resp.status == 200 else None

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=30)
        while True:
            url = queue.get()
            try:
                try:
                    body = fetch(conn, url)
                except (OSError, http.client.HTTPException):
                    conn.close()  # reconnects on the next request
                    body = None
                if body is None:
                    stats["errors"] += 1
                    continue
                stats["pages"] += 1
                for href in links(body):
                    link = urldefrag(urljoin(url, href))[0]
                    if link in seen or len(seen) >= limit:
                        continue
                    p = urlsplit(link)
                    if p.scheme == origin.scheme and p.netloc == origin.netloc:
                        seen.add(link)
                        queue.put(link)
            finally:
                queue.task_done()

    pool = gevent.pool.Pool(pool_size)
    t0 = time.perf_counter()
    for _ in range(pool_size):
        pool.spawn(worker)
    queue.join()  # every queued URL has been fetched and its links queued
    seconds = time.perf_counter() - t0
    pool.kill()
    return stats["pages"], stats["errors"], seconds


def main(argv):
    use_lxml = argv[:1] == ["--lxml"]
    argv = argv[1:] if use_lxml else argv
    if not 1 <= len(argv) <= 3:
        sys.exit(__doc__)
    base = argv[0]
    pool_size = int(argv[1]) if len(argv) > 1 else 100
    limit = int(argv[2]) if len(argv) > 2 else 20000
    if use_lxml:
        import lxml.html  # noqa: F401 -- fail before crawling if it is missing
    pages, errors, seconds = crawl(base, pool_size, limit, lxml_links if use_lxml else regex_links)
    print(json.dumps({"name": "crawl", "source": "gevent-lxml" if use_lxml else "gevent",
                      "value": round(pages / seconds, 1), "unit": "pages/s",
                      "pages": pages, "errors": errors,
                      "seconds": round(seconds, 3)}))


if __name__ == "__main__":
    main(sys.argv[1:])
