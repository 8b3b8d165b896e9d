"""A real SMTP server for the email tests: aiosmtpd on 127.0.0.1:PORT,
writing each message it accepts as one JSON file into DIR (the envelope,
the headers the tests check, and the decoded text and HTML parts).

    python3 catcher.py DIR PORT
"""

import email
import email.policy
import json
import os
import sys
import time

from aiosmtpd.controller import Controller


class Catcher:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        plain = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "content_type": msg.get_content_type(),
            "text": plain.get_content() if plain else "",
            "html": html.get_content() if html else "",
        }
        name = os.path.join(self.out, "%d.json" % time.time_ns())
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return "250 Message accepted"


def main():
    out, port = sys.argv[1], int(sys.argv[2])
    controller = Controller(Catcher(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
