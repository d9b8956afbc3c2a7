"""Nicknames cannot impersonate (issue 6, section 3).

A nickname that renders like another one is refused: invisible characters
(default-ignorable code points, variation selectors, marks alone), scripts mixed
beyond what Japanese is written in, and look-alikes of an existing nickname by
their Unicode TR39 skeleton, on every path that creates or renames a member.
"""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from accounts import nicknames
from accounts.models import Member
from tests.accounts.helpers import refusal_code
from tests.conftest import PASSWORD, client_for

LOOKS_ALIKE = "This nickname looks too much like an existing one."
MIXED = "A nickname cannot mix alphabets (such as Latin with Cyrillic or Greek)"
INVISIBLE = "A nickname cannot contain control or invisible characters."


# --- Invisible characters ---------------------------------------------------------


@pytest.mark.parametrize(
    "nickname",
    [
        "aiko\u034f",  # combining grapheme joiner: renders as "aiko"
        "ai\u034fko",
        "\ufe0f",  # variation selector 16 alone: renders as nothing
        "aiko\ufe0e",  # variation selector 15
        "aiko\U000e0100",  # variation selector 17 (supplementary)
        "aiko\u180b",  # Mongolian free variation selector
        "aiko\u17b4",  # Khmer inherent vowel, default-ignorable
        "さくら\ufe0f",
    ],
    ids=repr,
)
def test_default_ignorable_code_points_and_variation_selectors_are_refused(
    nickname,
):
    assert refusal_code(nickname) == "invisible"


@pytest.mark.parametrize(
    "nickname", ["\u0301", "\u0301\u0302", "\u3099", "\u0301 \u0301"], ids=repr
)
def test_nickname_of_combining_marks_alone_is_refused(nickname):
    assert refusal_code(nickname) == "invisible"


@pytest.mark.parametrize("char", ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad"])
def test_zero_width_characters_stay_refused(char):
    assert refusal_code(f"ai{char}ko") == "invisible"


# --- Scripts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nickname",
    [
        "\u0430iko",  # Cyrillic а, then Latin
        "aik\u043e",  # Latin, then Cyrillic о
        "\u03b1iko",  # Greek α
        "aik\u03bf",  # Greek ο
        "\u0440aypal",  # Cyrillic р
        "ai\u0578o",  # Armenian ո
    ],
    ids=repr,
)
def test_look_alike_mixing_scripts_is_refused_even_with_no_existing_nickname(
    db, nickname
):
    assert not Member.objects.exists()

    assert refusal_code(nickname) == "mixed_script"


@pytest.mark.parametrize(
    "nickname",
    [
        "さくら",
        "山田太郎",
        "ユキ",
        "aiko123",
        "たろうTaro",
        "ちか-chan",
        "ミク・ハツネ",
        "らーめん大好き",
        "ｱｲｺ",  # half-width Katakana, stored full-width
        "ＡＩＫＯ",  # full-width Latin, stored as ASCII
        "Ｔａｒｏ１２３",
        "佐々木",
        "Zoë",
        "Σοφία",  # Greek alone
        "Мария",  # Cyrillic alone
        "snake_case_99",
    ],
)
def test_nicknames_people_really_type_are_accepted(nickname):
    nicknames.validate_nickname(nickname)


# --- Skeletons ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("coca", "\u0441\u043e\u0441\u0430"),  # соса, all Cyrillic
        ("opa", "\u03bf\u03c1\u03b1"),  # ορα, all Greek
        ("タロウ", "夕ロウ"),  # Han 夕 for Katakana タ
        ("ニコ", "二コ"),  # Han 二 for Katakana ニ
        ("へいじ", "ヘいじ"),  # Katakana ヘ for Hiragana へ
        ("aiko1", "aikol"),
        ("maki", "rnaki"),
        ("aiko", "ＡＩＫＯ"),
    ],
)
def test_look_alikes_share_a_skeleton(one, other):
    assert nicknames.nickname_skeleton(one) == nicknames.nickname_skeleton(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("さくら", "サクラ"), ("aiko", "aika"), ("山田", "山本"), ("ben", "ken")],
)
def test_different_looking_nicknames_have_different_skeletons(one, other):
    assert nicknames.nickname_skeleton(one) != nicknames.nickname_skeleton(other)


def test_member_is_stored_with_the_skeleton_of_its_key(member_factory):
    member = member_factory(nickname="ＣＯＣＡ")

    member.refresh_from_db()
    assert member.nickname_skeleton == nicknames.nickname_skeleton("coca")


# --- Every path that creates or renames a member -----------------------------------


LOOK_ALIKES = [
    ("coca", "\u0441\u043e\u0441\u0430"),
    ("opa", "\u03bf\u03c1\u03b1"),
    ("タロウ", "夕ロウ"),
]


@pytest.mark.parametrize(("existing", "look_alike"), LOOK_ALIKES)
def test_create_user_refuses_a_look_alike_of_an_existing_nickname(
    member_factory, existing, look_alike
):
    member_factory(nickname=existing)

    with pytest.raises(ValidationError) as info:
        Member.objects.create_user(look_alike, PASSWORD)

    assert info.value.code == "look_alike"
    assert list(Member.objects.values_list("nickname", flat=True)) == [existing]


def test_database_refuses_a_look_alike_that_skips_the_checks(member_factory):
    member_factory(nickname="coca")

    with pytest.raises(IntegrityError), transaction.atomic():
        Member(nickname="\u0441\u043e\u0441\u0430").save()

    assert Member.objects.count() == 1


def join(client: Client, url: str, nickname: str):
    return client.post(
        url, {"nickname": nickname, "password1": PASSWORD, "password2": PASSWORD}
    )


@pytest.mark.parametrize(("existing", "look_alike"), LOOK_ALIKES)
def test_joining_with_a_look_alike_is_refused_and_leaves_the_link_open(
    member_factory, client, invite, existing, look_alike
):
    member_factory(nickname=existing)
    invitation, token = invite()

    response = join(client, f"/join/{token}/", look_alike)

    assert response.status_code == 200
    assert LOOKS_ALIKE in response.text
    assert Member.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.used_at is None


def test_joining_with_a_mixed_script_nickname_is_refused(member, client, invite):
    _invitation, token = invite()

    response = join(client, f"/join/{token}/", "\u0430iko")

    assert MIXED in response.text
    assert Member.objects.count() == 1


def test_open_registration_refuses_a_look_alike(member_factory, client, settings):
    settings.OPEN_REGISTRATION = True
    member_factory(nickname="coca")

    response = join(client, "/join/", "\u0441\u043e\u0441\u0430")

    assert LOOKS_ALIKE in response.text
    assert Member.objects.count() == 1


def test_joining_with_an_invisible_character_is_refused(member, client, invite):
    _invitation, token = invite()

    response = join(client, f"/join/{token}/", "aiko\u034f")

    assert INVISIBLE in response.text
    assert Member.objects.count() == 1


@pytest.fixture
def admin_client(member_factory):
    admin = member_factory(nickname="admin", is_staff=True, is_superuser=True)
    return client_for(admin)


def test_admin_cannot_add_a_look_alike_member(admin_client, member_factory):
    member_factory(nickname="coca")

    response = admin_client.post(
        "/admin/accounts/member/add/",
        {
            "nickname": "\u0441\u043e\u0441\u0430",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
        },
    )

    assert response.status_code == 200
    assert LOOKS_ALIKE in response.text
    assert not Member.objects.filter(nickname="\u0441\u043e\u0441\u0430").exists()


def admin_change(admin_client, member, nickname: str):
    return admin_client.post(
        f"/admin/accounts/member/{member.pk}/change/",
        {
            "nickname": nickname,
            "introduction": "",
            "invited_by": "",
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )


def test_admin_cannot_rename_a_member_to_a_look_alike(admin_client, member_factory):
    member_factory(nickname="coca")
    other = member_factory(nickname="cola")

    response = admin_change(admin_client, other, "\u0441\u043e\u0441\u0430")

    assert response.status_code == 200
    assert LOOKS_ALIKE in response.text
    other.refresh_from_db()
    assert other.nickname == "cola"


def test_admin_may_rename_a_member_or_save_it_under_its_own_nickname(
    admin_client, member_factory
):
    # The clash check leaves the member itself out.
    member_factory(nickname="coca")
    other = member_factory(nickname="cola")

    assert admin_change(admin_client, other, "cola").status_code == 302
    assert admin_change(admin_client, other, "colb").status_code == 302
    other.refresh_from_db()
    assert other.nickname_skeleton == nicknames.nickname_skeleton("colb")


# --- The migration -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_gives_existing_members_their_skeletons():
    executor = MigrationExecutor(connection)
    before = [("accounts", "0002_block")]
    after = executor.loader.graph.leaf_nodes("accounts")
    executor.migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps
        OldMember = old.get_model("accounts", "Member")
        rows = {}
        # Two that already look alike (before skeletons, both could join).
        for nickname in ["coca", "さくら", "\u0441\u043e\u0441\u0430", "タロウ"]:
            rows[nickname] = OldMember.objects.create(
                nickname=nickname, nickname_key=nicknames.nickname_key(nickname)
            ).pk

        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)

        stored = dict(Member.objects.values_list("nickname", "nickname_skeleton"))
        assert stored["coca"] == nicknames.nickname_skeleton("coca")
        assert stored["さくら"] == nicknames.nickname_skeleton("さくら")
        assert stored["タロウ"] == nicknames.nickname_skeleton("タロウ")
        # The later look-alike keeps its place with a skeleton of its own, and
        # nobody new can take either form.
        cyrillic = stored["\u0441\u043e\u0441\u0430"]
        assert cyrillic.startswith(nicknames.nickname_skeleton("coca"))
        assert cyrillic != stored["coca"]
        assert cyrillic.endswith(str(rows["\u0441\u043e\u0441\u0430"]))
        with pytest.raises(ValidationError):
            Member.objects.create_user("ｃｏｃａ", PASSWORD)
    finally:
        Member.objects.all().delete()
        executor = MigrationExecutor(connection)
        executor.migrate(after)
