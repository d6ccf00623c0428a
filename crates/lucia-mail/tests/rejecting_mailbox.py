"""aiosmtpd's Mailbox handler that refuses some recipients, for lucia-mail's SMTP tests.

Recipients starting with "reject" get a permanent 550, with "later" a transient 451; the others
are delivered to the maildir like Mailbox does.
"""

from aiosmtpd.handlers import Mailbox


class RejectingMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 no such user"
        if address.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"
