#!/usr/bin/env python3
"""Scrapy reference crawler for the crawl benchmark.

Usage: python3 scrapy_crawl.py BASEURL LIMIT [--concurrency N=100]
                                [--reactor asyncio|epoll] [--timeout SECONDS=900]
  e.g. python3 scrapy_crawl.py http://127.0.0.1:18080 20000
BASEURL is scheme://host:port; any path in it is ignored.

Starts at BASEURL/p/0.html and crawls every page of the same host that it can
reach (a site made by make_site.py), fetching at most about LIMIT pages. It
runs one plain scrapy.Spider from a script with scrapy.crawler.CrawlerProcess.
The spider's parse takes the <a href> links of each page with a LinkExtractor
restricted to the base host (allow_domains) and follows them with
response.follow_all; Scrapy's default duplicate filter drops URLs already seen
(its fingerprints ignore #fragments), and the spider's allowed_domains keeps
the OffsiteMiddleware as a second guard, so links to other hosts (such as
http://example.invalid/) are never requested. The crawl stops when nothing is
left to fetch or after LIMIT responses (CLOSESPIDER_PAGECOUNT); the spider
also stops following links once it has parsed LIMIT pages.

Settings are what a fair Scrapy user would pick for a crawl of one local
server (see settings_for below, and Scrapy's "Broad Crawls" advice):
CONCURRENT_REQUESTS = CONCURRENT_REQUESTS_PER_DOMAIN = --concurrency (Scrapy's
HTTP/1.1 pool then keeps that many keep-alive connections), DOWNLOAD_DELAY 0,
no AutoThrottle, cookies or telnet console, LOG_LEVEL ERROR. ROBOTSTXT_OBEY is
False: the site has no robots.txt, so obeying it would only add one 404
request to the run, and the gevent reference does not fetch it either.
--reactor picks the Twisted reactor: asyncio (Scrapy's default,
AsyncioSelectorReactor) or epoll (Twisted's EPollReactor).

Prints exactly one JSON line on stdout:
  {"name": "crawl-distributed", "source": "scrapy", "value": PAGES_PER_SECOND,
   "unit": "pages/s", "pages": N, "errors": E, "seconds": S}
timed from the spider_opened signal to the spider_closed signal. pages counts
the responses with status 200 that parse handled (when LIMIT is below the
size of the site it passes LIMIT by about --concurrency pages, the ones in
flight or queued in Scrapy when the limit was hit); errors counts the requests
that failed (after Scrapy's retries) or got another status, and is 0 in a good
run. If the crawl cannot run, fetches no page, has any error, raises in parse,
or hits --timeout, it prints
  {"name": "crawl-distributed", "source": "scrapy", "error": "..."}
instead and exits with status 1, so that a broken run (say, nginx died) never
passes for a slow one. Scrapy's own log (errors only) goes to stderr.

Scrapy installs the Twisted reactor when the crawl starts, and a reactor can
only be started once per process, so each run of this script does one crawl.
"""
import argparse
import json
import sys
import time
from urllib.parse import urljoin, urlsplit

NAME, SOURCE = "crawl-distributed", "scrapy"

REACTORS = {
    "asyncio": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "epoll": "twisted.internet.epollreactor.EPollReactor",
}


def fail(message):
    print(json.dumps({"name": NAME, "source": SOURCE, "error": message}))
    sys.stdout.flush()
    sys.exit(1)


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        fail(f"usage: {message}")


def parse_args(argv):
    p = Parser(prog="scrapy_crawl.py", description=__doc__.split("\n\n")[0])
    p.add_argument("base", metavar="BASEURL", help="scheme://host:port of the site")
    p.add_argument("limit", metavar="LIMIT", type=int, help="at most this many pages")
    p.add_argument("--concurrency", type=int, default=100,
                   help="CONCURRENT_REQUESTS and CONCURRENT_REQUESTS_PER_DOMAIN (100)")
    p.add_argument("--reactor", choices=sorted(REACTORS), default="asyncio",
                   help="Twisted reactor (asyncio, Scrapy's default)")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="give up after this many seconds (CLOSESPIDER_TIMEOUT, 900)")
    args = p.parse_args(argv)
    if args.limit < 1:
        p.error("LIMIT must be at least 1")
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")
    if args.timeout <= 0:
        p.error("--timeout must be positive")
    parts = urlsplit(args.base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        p.error(f"BASEURL must be http://host[:port], not {args.base!r}")
    return args


def settings_for(args):
    return {
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "DOWNLOAD_TIMEOUT": 30,  # as the gevent reference's socket timeout
        "CLOSESPIDER_PAGECOUNT": args.limit,
        "CLOSESPIDER_TIMEOUT": args.timeout,
        "TWISTED_REACTOR": REACTORS[args.reactor],
        # Only the one crawl runs in this process; no output feeds, no stats dump.
        "STATS_DUMP": False,
    }


def run(args):
    # Imported here so a usage error is reported without loading Twisted.
    import scrapy
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor

    start_url = urljoin(args.base, "/p/0.html")
    origin = urlsplit(start_url)
    result = {"pages": 0, "errors": 0, "spider_errors": 0,
              "opened": None, "closed": None, "reason": None}

    class BenchSpider(scrapy.Spider):
        name = "crawlbench"
        # OffsiteMiddleware compares hostnames without the port ...
        allowed_domains = [origin.hostname]

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            # ... but LinkExtractor's allow_domains compares the whole netloc,
            # port included, so give it host:port.
            self.links = LinkExtractor(allow_domains=[origin.netloc])

        @classmethod
        def from_crawler(cls, crawler, *a, **kw):
            spider = super().from_crawler(crawler, *a, **kw)
            crawler.signals.connect(spider.on_opened, signal=signals.spider_opened)
            crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
            crawler.signals.connect(spider.on_spider_error, signal=signals.spider_error)
            return spider

        async def start(self):  # Scrapy >= 2.13
            for request in self.start_requests():
                yield request

        def start_requests(self):  # older Scrapy; also used by start()
            yield scrapy.Request(start_url, callback=self.parse, errback=self.on_failure)

        def on_opened(self, spider):
            result["opened"] = time.perf_counter()

        def on_closed(self, spider, reason):
            result["closed"] = time.perf_counter()
            result["reason"] = reason

        def on_spider_error(self, failure, response, spider):
            result["spider_errors"] += 1

        def on_failure(self, failure):
            # Download errors, and non-2xx statuses (HttpErrorMiddleware).
            result["errors"] += 1

        def parse(self, response):
            if response.status != 200:
                result["errors"] += 1
                return
            result["pages"] += 1
            if result["pages"] >= args.limit:
                return
            yield from response.follow_all(self.links.extract_links(response),
                                           callback=self.parse, errback=self.on_failure)

    process = CrawlerProcess(settings_for(args))
    process.crawl(BenchSpider)
    process.start()  # blocks until the crawl is over; runs the reactor once

    if result["opened"] is None or result["closed"] is None:
        raise RuntimeError("the spider did not open and close")
    return result


def main(argv):
    args = parse_args(argv)
    try:
        result = run(args)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 -- report anything as JSON
        fail(f"{type(e).__name__}: {e}")
    seconds = result["closed"] - result["opened"]
    pages, reason = result["pages"], result["reason"]
    if result["spider_errors"]:
        fail(f"parse raised {result['spider_errors']} time(s); see stderr")
    if reason not in ("finished", "closespider_pagecount"):
        fail(f"crawl stopped early ({reason}) after {pages} pages in {seconds:.1f} s")
    if pages == 0:
        fail(f"no page fetched from {urljoin(args.base, '/p/0.html')} "
             f"({result['errors']} errors); see stderr")
    if result["errors"]:
        fail(f"{result['errors']} requests failed ({pages} pages fetched "
             f"in {seconds:.1f} s); see stderr")
    print(json.dumps({"name": NAME, "source": SOURCE,
                      "value": round(pages / seconds, 1), "unit": "pages/s",
                      "pages": pages, "errors": result["errors"],
                      "seconds": round(seconds, 3)}))


if __name__ == "__main__":
    main(sys.argv[1:])
