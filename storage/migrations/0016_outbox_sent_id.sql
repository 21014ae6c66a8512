-- "Me too" by quote-reply (issue 13 §4): a resident quotes the bot's receipt of a report; the outbox row
-- the dispatcher marked sent with that platform message id says (ref 'ticket:N') which ticket it was.
CREATE INDEX IF NOT EXISTS outbox_sent_id ON outbox(platform, address, platform_message_id)
    WHERE platform_message_id IS NOT NULL;
