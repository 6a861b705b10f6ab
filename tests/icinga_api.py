#!/usr/bin/env python3
"""Talk to an Icinga 2 API from inside a lab namespace: icinga_api.py URL USER PASSWORD CA [BODY].

Prints the JSON answer; with BODY (JSON) the request is a POST.
"""

import base64
import json
import ssl
import sys
import urllib.request

url, user, password, ca = sys.argv[1:5]
body = sys.argv[5].encode() if len(sys.argv) > 5 else None
context = ssl.create_default_context(cafile=ca)
context.check_hostname = False  # the node's certificate names the node, not 127.0.0.1
request = urllib.request.Request(url, data=body, method="POST" if body else "GET")
request.add_header("Accept", "application/json")
request.add_header("Authorization", "Basic " + base64.b64encode(
    "{}:{}".format(user, password).encode()).decode())
with urllib.request.urlopen(request, context=context, timeout=10) as answer:
    print(json.dumps(json.load(answer)))
