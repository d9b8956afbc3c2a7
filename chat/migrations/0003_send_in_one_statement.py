"""chat_send_message(): a message saved in one statement on PostgreSQL
(chat/actions.py, _save_in_order). The topic's row lock, the id of the
message before it, the new id, the row and its mentions, inside the database:
the lock is held for no round trip to Python."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION chat_send_message(
    p_topic_id bigint, p_at timestamptz, p_message jsonb, p_mentioned bigint[]
) RETURNS TABLE (message_id bigint, prev_id bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_prev bigint;
    v_id bigint;
BEGIN
    -- The topic's row lock first: sends of one topic queue here.
    UPDATE communities_topic
       SET last_message_at = p_at, message_count = message_count + 1
     WHERE id = p_topic_id;
    -- A statement of its own, so a snapshot taken after the lock: it sees the
    -- message of the send that held the lock before this one.
    SELECT m.id INTO v_prev FROM chat_message m
     WHERE m.topic_id = p_topic_id ORDER BY m.id DESC LIMIT 1;
    -- The id under the lock: the topic's ids in the order their sends commit.
    v_id := nextval(pg_get_serial_sequence('chat_message', 'id'));
    INSERT INTO chat_message
    SELECT (jsonb_populate_record(
        NULL::chat_message, p_message || jsonb_build_object('id', v_id)
    )).*;
    INSERT INTO chat_mention (message_id, member_id)
    SELECT v_id, member_id FROM unnest(p_mentioned) AS member_id;
    RETURN QUERY SELECT v_id, COALESCE(v_prev, 0);
END
$$;
"""

DROP = "DROP FUNCTION IF EXISTS chat_send_message(bigint, timestamptz, jsonb, bigint[]);"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_message_changed_at"),
        ("communities", "0003_membership_left"),
    ]

    operations = [migrations.RunPython(create, drop)]
