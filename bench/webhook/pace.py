#!/usr/bin/env python3
"""Starts COUNT runs at RATE per second through a trigger URL, over one keep-alive HTTPS
connection (trusting CA_FILE). Usage: pace.py TRIGGER_URL CA_FILE RATE COUNT"""
import http.client
import ssl
import sys
import time
import urllib.parse

url, ca_file, rate, count = urllib.parse.urlsplit(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
connection = http.client.HTTPSConnection(url.hostname, url.port, context=ssl.create_default_context(cafile=ca_file))
started = time.monotonic()
for index in range(count):
    delay = started + index / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    connection.request("POST", url.path + "?" + url.query, b"{}", {"Content-Type": "application/json"})
    answer = connection.getresponse()
    answer.read()
    if answer.status != 202:
        sys.exit(f"trigger answered {answer.status}")
