"""The ``stylegan`` stand-in generator: a photo-real face of a synthetic person, in the photo's pose.

For one detected face:

1. the fitted encoder reads a style ``w_photo`` from the aligned crop (pose, light, hair, colouring;
   far too coarse to reproduce the person);
2. the face key seeds ``candidates`` codes z -> (truncated) styles of synthetic people; the one
   nearest ``w_photo`` along the attribute directions (sex, age range, colouring: the directions the
   encoder reads best) becomes the identity; with ``transplant_attributes`` its coordinates along
   those directions are then set to ``w_photo``'s (an exact match without searching many
   candidates, which also picks the one most like the target in every other way); with
   ``no_added_eyewear`` it gets no glasses where the photo's face has none;
3. per-layer styles: coarse layers = ``w_photo`` edited so that the predicted landmarks are the
   photo's (yaw, pitch, mouth), middle (identity) layers = the key's person, fine layers (colour,
   light) = ``w_photo``;
4. the 512 px render is re-detected, warped onto the photo's five landmarks by a similarity
   transform, colour- and detail-matched (blur, or grain where the render is smoother than the
   photo) and blended through a feathered face mask (the rest of the hair, the ears and the
   background stay the photo's).

A different key picks other synthetic people; nothing in the chain inverts back to the original, so
``encrypt`` seals the original face region under AES-GCM for the exact restore.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from encryptface.config import DetectionSettings, StyleGANSettings
from encryptface.faces.alignment import (
    AlignedFace,
    Region,
    align_crop,
    canonical_template,
    similarity_transform,
)
from encryptface.faces.cover import cover_box
from encryptface.faces.detection import Face, FaceDetector, nearest_centre
from encryptface.faces.eyewear import eyewear_features, wears_eyewear
from encryptface.faces.mouth import MouthReader
from encryptface.faces.readers import CropReader
from encryptface.faces.recognition import DlibRecognizer
from encryptface.faces.segmentation import PersonSegmenter
from encryptface.imaging.colour import colour_stats, transfer_colours
from encryptface.imaging.warp import displacement_field, warp
from encryptface.models.stylegan import LAYERS, LICENCE, STYLE_DIM, StyleGAN
from encryptface.models.stylegan_encoder import (
    DESCRIPTOR_MARGIN,
    AppearanceMatch,
    BeardEdit,
    DemographicMatch,
    EyewearEdit,
    MouthEdit,
    StyleFit,
    Wanted,
    aligned_descriptor,
    aligned_landmarks,
    crop_face,
    landmark_face,
)
from encryptface.models.stylegan_photo_fit import PhotoFit

CONFIG_FILE = "config.json"
FIT_FILE = "styles.npz"
EYEWEAR_FILE = "eyewear.npz"  # models trained before it have none (no eyewear edit)
APPEARANCE_FILE = "appearance.npz"  # ... and none of this (matched along the encoder's directions)
DEMOGRAPHICS_FILE = "demographics.npz"  # ... nor this (the key's person of any sex, age or group)
MOUTH_FILE = "mouth.npz"  # ... nor this (the key's person's mouth as it comes)
BEARD_FILE = "beard.npz"  # ... nor this (bearded faces are sealed: no bearded stand-in)
# What a stand-in is checked for, in this order (age range is read too loosely to re-render for it)
RENDER_CHECKED = ("group", "sex")
# A stand-in's coarse and identity styles are published in its record (what decoys need); its fine
# style, the photo's own encoding, is not.
PUBLISHED_STYLES = 2


@dataclasses.dataclass(frozen=True)
class StandIn:
    """A stand-in face blended into a copy of the photo's region."""

    region: Region
    pixels: np.ndarray      # the region of the photo with the stand-in face in it
    styles: np.ndarray      # (3, 512): coarse, identity and fine styles that were rendered


@dataclasses.dataclass(frozen=True)
class StyleGANConfig:
    """``config.json`` of a stylegan model directory (written by the training job): what was
    fitted, not how to render (that is :class:`~encryptface.config.StyleGANSettings`, conf's
    ``[stylegan]``). Models written before the knobs moved to conf carry them too: ignored."""

    model_id: str
    crop_size: int
    face_scale: float

    @classmethod
    def read(cls, model_dir: Path) -> StyleGANConfig:
        data = json.loads((model_dir / CONFIG_FILE).read_text())
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


def _keyed_rng(key: bytes, stream: int) -> np.random.Generator:
    """Philox keyed by the face key's first 128 bits, on its own ``stream`` (counter)."""
    if len(key) < 16:
        raise ValueError("the stylegan generator needs at least 128 bits of key")
    return np.random.Generator(np.random.Philox(key=int.from_bytes(key[:16], "little"),
                                                counter=[stream, 0, 0, 0]))


def key_codes(key: bytes, count: int) -> np.ndarray:
    """``count`` Gaussian codes z (count, 512) drawn from Philox keyed by the face key."""
    return _keyed_rng(key, 0x5747).standard_normal((count, STYLE_DIM)).astype(np.float32)


def key_noise(key: bytes, count: int) -> np.ndarray:
    """``count`` standard normal numbers keyed by the face key (a stream apart from
    :func:`key_codes`)."""
    return _keyed_rng(key, 0x4E4F).standard_normal(count).astype(np.float32)


class StyleGANGenerator:
    """Renders keyed stand-in faces into photos (see the module docstring)."""

    licence = LICENCE

    def __init__(self, model_dir: str | Path, settings: StyleGANSettings, detection: DetectionSettings,
                 threads: int = 0) -> None:
        self.model_dir = Path(model_dir)
        self.settings = settings
        self.config = StyleGANConfig.read(self.model_dir)
        self.model_id = self.config.model_id
        self.crop_size, self.face_scale = self.config.crop_size, self.config.face_scale
        self.fit = StyleFit.load(self.model_dir / FIT_FILE)
        eyewear = self.model_dir / EYEWEAR_FILE
        self.eyewear = EyewearEdit.load(eyewear) if eyewear.exists() else None
        appearance = self.model_dir / APPEARANCE_FILE
        self.appearance = None
        if self.settings.match_appearance and appearance.exists():
            self.appearance = AppearanceMatch.load(appearance)
        demographics = self.model_dir / DEMOGRAPHICS_FILE
        self.demographics = None
        if self.settings.match_demographics and demographics.exists():
            self.demographics = DemographicMatch.load(demographics)
        mouth = self.model_dir / MOUTH_FILE
        self.mouth = MouthEdit.load(mouth) if self.settings.mouth_level > 0 and mouth.exists() else None
        # dlib's 68 points: the photo's mouth, and the features the landmark warp moves
        self.mouth_reader = MouthReader() if self.mouth is not None or settings.landmark_warp > 0 else None
        self.template = canonical_template(self.crop_size, self.face_scale)
        self.network = StyleGAN(threads)
        self.detector = FaceDetector(detection)
        self.cover_margin = detection.cover_margin
        self.describer = DlibRecognizer()  # reads sex, age and build for the encoder (CC0 model)
        beard = self.model_dir / BEARD_FILE
        self.beard = BeardEdit.load(beard) if settings.beard_level > 0 and beard.exists() else None
        self.beard_reader = CropReader.load("beard") \
            if settings.no_added_beard or self.beard is not None else None
        masks = {settings.person_mask, settings.decoy_person_mask}
        self.segmenter = PersonSegmenter(threads) if masks != {"off"} else None
        self.photo_fit = PhotoFit(self.network, settings.fit_steps) if settings.fit_steps > 0 else None

    # -- styles ----------------------------------------------------------------------------------
    def identities(self, key: bytes, truncation: float, count: int) -> np.ndarray:
        """The key's first ``count`` synthetic people: truncated styles (count, 512)."""
        mean = self.fit.mean_style
        return mean + truncation * (self.network.map(key_codes(key, count)) - mean)

    def candidates(self, key: bytes, truncation: float, wanted: dict[str, Wanted],
                   choice: int = 0) -> np.ndarray:
        """The key's ``candidates`` people the stand-in is chosen from: its first ones, or with the
        demographic match the first of its ``demographic_pool`` people who are clearly of the
        ``wanted`` classes (see :class:`DemographicMatch`); ``choice`` > 0: the next ones (a
        render that did not read as the classes is replaced by the next person)."""
        count = self.settings.candidates
        if self.demographics is None or not wanted:
            return self.identities(key, truncation, count * (choice + 1))[count * choice:]
        pool = self.identities(key, truncation, max(self.settings.demographic_pool, count))
        order = self.demographics.matching_order(pool, wanted, self.settings.demographic_certainty,
                                                 self.settings.unclear_group_tolerance)
        start = (count * choice) % len(order)
        return pool[np.resize(np.roll(order, -start), min(count, len(order)))]

    def photo_classes(self, descriptor: np.ndarray) -> dict[str, Wanted]:
        """The demographic classes a photo's face is matched on (empty without the match)."""
        if self.demographics is None:
            return {}
        return self.demographics.photo_classes(descriptor, self.settings.photo_certainty,
                                               self.settings.demographic_certainty,
                                               self.settings.unclear_group_tolerance > 0)

    def style_classes(self, style: np.ndarray) -> dict[str, Wanted]:
        """The demographic classes a synthetic person's style is matched on (empty without the
        match)."""
        if self.demographics is None:
            return {}
        return self.demographics.wanted_classes(self.demographics.style_probabilities(style[None]),
                                                self.settings.demographic_certainty,
                                                self.settings.unclear_group_tolerance > 0)

    def styles_for(self, aligned: AlignedFace, landmarks: np.ndarray, key: bytes,
                   choice: int = 0) -> np.ndarray:
        """(3, 512) coarse, identity, fine styles of the stand-in for one aligned face (the key's
        ``choice``-th person of the photo's classes)."""
        return self._styles(aligned, landmarks, key, choice, *self.read_photo(aligned, landmarks))

    def _styles(self, aligned: AlignedFace, landmarks: np.ndarray, key: bytes, choice: int,
                photo_style: np.ndarray, descriptor: np.ndarray) -> np.ndarray:
        """:meth:`styles_for` with the photo already read (:meth:`read_photo`: once per face, not
        once per person tried)."""
        target = aligned_landmarks(aligned, landmarks, self.crop_size)
        candidates = self.candidates(key, self.settings.truncation, self.photo_classes(descriptor), choice)
        if self.appearance is None:
            identity = self.nearest_identity(photo_style, candidates, self.settings.transplant_attributes)
        else:
            limit = self.settings.appearance_limit
            wanted = self.appearance.coordinates(descriptor[None])[0]
            step = self.settings.appearance_step
            if step > 0:  # only the cell of a grid, a few bits of the photo, not its exact place
                wanted = step * np.round(wanted / step)
            # keyed noise: the stand-in is of the photo's group, not at its exact coordinates (the
            # exact ones brought recognisers closer to the person)
            wanted = wanted + self.settings.appearance_noise * key_noise(key, len(wanted))
            identity = self.matched_identity(np.clip(wanted, -limit, limit), candidates,
                                             self.settings.transplant_attributes)
        if self.beard is not None and self.bearded(aligned.crop):
            # before the glasses cap: the beard direction also leads towards glasses (sunglasses came
            # with the beard on a bare face)
            identity = self.beard.set_level(identity, self.settings.beard_level)
        if self.eyewear is not None and self.settings.no_added_eyewear and not self.has_eyewear(aligned.crop):
            identity = self.eyewear.without_glasses(identity, self.fit.mean_style)
        share = self.settings.coarse_from_photo
        coarse = self.fit.match_pose(share * photo_style + (1 - share) * identity, target,
                                     self.settings.pose_strength)
        if self.mouth is not None:
            # after the pose edit too: it moves the mouth corners back and undid most of the opening
            level = self.mouth_level(aligned, landmarks)
            coarse, identity = self.mouth.set_level(coarse, level), self.mouth.set_level(identity, level)
        return np.stack([coarse, identity, photo_style])

    @property
    def renders_beards(self) -> bool:
        """Whether a bearded face gets a bearded stand-in (``stylegan.beard_level`` and a model
        with ``beard.npz``); if not, the scrubber seals bearded faces (``encrypt.seal_bearded``)."""
        return self.beard is not None

    def mouth_level(self, aligned: AlignedFace, landmarks: np.ndarray) -> float:
        """Where along the mouth direction the stand-in goes, in bank spreads from the mean:
        ``mouth_level`` for a photo whose mouth is open, minus it for a closed one."""
        points = aligned_landmarks(aligned, landmarks, self.crop_size).reshape(5, 2) * self.crop_size
        openness = self.mouth_reader.openness(aligned.crop, crop_face(aligned.crop, points))
        if openness > float(self.mouth.threshold):
            return self.settings.mouth_level
        return -self.settings.mouth_level

    def has_eyewear(self, crop: np.ndarray) -> bool:
        """Whether the face of an aligned crop wears glasses or dark lenses (the eyewear test with
        this model's calibration; models without ``eyewear.npz`` have none)."""
        if self.eyewear is None:
            raise ValueError(f"{self.model_dir} has no {EYEWEAR_FILE} (retrain it with train-stylegan)")
        features = eyewear_features(crop[None], self.template)
        return bool(wears_eyewear(features, self.eyewear.reference)[0])

    def read_photo(self, aligned: AlignedFace, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The encoder's style (512,) of one aligned face -- pose, light, hair, sex, age range and
        colouring, far too coarse to reproduce the person -- and its dlib descriptor (128,)."""
        descriptor = self.describe(aligned, landmarks)
        return self.fit.encode(aligned.crop[None], descriptor[None])[0], descriptor

    def describe(self, aligned: AlignedFace, landmarks: np.ndarray) -> np.ndarray:
        """The dlib descriptor (128,) of the face with ``landmarks`` in its aligned crop."""
        return aligned_descriptor(self.describer, aligned, landmarks)

    def keyed_stand_in(self, photo: np.ndarray, aligned: AlignedFace, landmarks: np.ndarray,
                       key: bytes, bbox: Sequence[float] | None = None) -> StandIn | None:
        """The key's stand-in for one face of ``photo`` (see :meth:`checked_stand_in`); ``bbox``
        (x, y, w, h): the face's detected box (see :meth:`blend`)."""
        photo_style, descriptor = self.read_photo(aligned, landmarks)
        return self.checked_stand_in(
            photo, landmarks, self.photo_classes(descriptor),
            lambda choice: self._styles(aligned, landmarks, key, choice, photo_style, descriptor),
            descriptor, bbox)

    def decoy(self, photo: np.ndarray, landmarks: np.ndarray, published: np.ndarray,
              key: bytes) -> StandIn | None:
        """A wrong key's stand-in for a published face whose record stores ``published`` styles
        (see :meth:`decoy_styles`), of the published person's classes."""
        published = np.asarray(published, np.float32)
        return self.checked_stand_in(photo, landmarks, self.style_classes(published[1]),
                                     lambda choice: self.decoy_styles(published, key, choice),
                                     decoy=True)

    def checked_stand_in(self, photo: np.ndarray, landmarks: np.ndarray, wanted: dict[str, Wanted],
                         styles_of: Callable[[int], np.ndarray],
                         original: np.ndarray | None = None,
                         bbox: Sequence[float] | None = None, decoy: bool = False) -> StandIn | None:
        """The stand-in of ``styles_of(0)`` (pasted as a ``decoy`` is or as the published face is:
        see :meth:`blend`), read back from the photo it is blended into; while
        it does not read as the ``wanted`` appearance group and sex (the style reader misses about
        one person in five) or its dlib descriptor is closer than ``min_identity_distance`` to the
        ``original`` face's (the outline and colours the blend keeps, and a person of the same
        group, bring it near), or it reads as bearded on a face that does not
        (``no_added_beard``) or clean-shaven on a bearded one (with ``beard_level``), or as
        wearing glasses on a face that does not (``no_added_eyewear``:
        the capped glasses direction still lets some through), the next person's:
        ``stand_in_tries`` renders at most; the one that missed least, in this order: group, sex,
        too near the original, ghosted, a seam (``max_seam``), a beard added or missing, glasses added (the
        farthest of equals). A dark-skinned woman's stand-ins of her group and sex sat 0.56-0.72
        from her in dlib's space; with the distance first, she was given a white man's face."""
        checked = {name: k for name, k in wanted.items()   # clear classes only
                   if name in RENDER_CHECKED and np.ndim(k) == 0 and self.demographics is not None}
        distance_check = original is not None and self.settings.min_identity_distance > 0
        ghost_check = self.settings.max_published_landmark_error > 0
        seam_check = self.settings.max_seam > 0
        photo_crop = self.align(photo, landmarks).crop
        photo_bearded = self.beard_reader is not None and self.bearded(photo_crop)
        beard_check = self.beard is not None if photo_bearded else self.settings.no_added_beard
        eyewear_check = (self.eyewear is not None and self.settings.no_added_eyewear
                         and not self.has_eyewear(photo_crop))
        tries = (self.settings.stand_in_tries
                 if checked or distance_check or ghost_check or seam_check or beard_check or eyewear_check
                 else 1)
        best = None
        for choice in range(tries):
            stand_in = self.stand_in(photo, landmarks, styles_of(choice), bbox, decoy)
            if stand_in is None:
                break
            if tries == 1:
                return stand_in
            published = self.published_photo(photo, stand_in)
            published_face = self.align(published, landmarks)   # read by the descriptor and the beard
            descriptor = self.describe(published_face, landmarks)
            read = self.demographics.photo_probabilities(descriptor[None]) if checked else {}
            distance = float(np.linalg.norm(descriptor - original)) if distance_check else np.inf
            ghosted = ghost_check and (self.published_landmark_error(published, landmarks, stand_in.region)
                                       > self.settings.max_published_landmark_error)
            misses = (*(name in checked and int(read[name][0].argmax()) != checked[name]
                        for name in RENDER_CHECKED),
                      distance < self.settings.min_identity_distance, ghosted,
                      seam_check and (seam_change(photo, published, landmarks, stand_in.region,
                                                  self.settings) > self.settings.max_seam),
                      beard_check and self.bearded(published_face.crop) != photo_bearded,
                      eyewear_check and self.has_eyewear(published_face.crop))
            if best is None or (misses, -distance) < best[:2]:
                best = (misses, -distance, stand_in)
            if not any(misses):
                break
        return None if best is None else best[2]

    def align(self, image: np.ndarray, landmarks: np.ndarray) -> AlignedFace:
        """The face at ``landmarks`` (5x2) of ``image`` in this model's aligned crop."""
        return align_crop(image, landmarks, self.template, self.crop_size)

    def bearded(self, crop: np.ndarray) -> bool:
        """Whether the face of an aligned crop (:meth:`align`) reads as having a beard over the
        chin (the beard reader's own decision point, p >= 0.5)."""
        return bool(self.beard_reader.probability(crop[None])[0] >= 0.5)

    def published_landmark_error(self, published: np.ndarray, landmarks: np.ndarray, region: Region) -> float:
        """Largest distance, in inter-ocular distances, between the photo's landmarks and those of
        the face found again in the ``published`` photo around ``region`` (inf: none found). A
        render turned another way than the photo, or a broken render, pastes as a ghosted double
        face, and the face found there moves."""
        margin_x, margin_y = (region.x1 - region.x0) // 2, (region.y1 - region.y0) // 2
        height, width = published.shape[:2]
        around = Region(max(0, region.x0 - margin_x), max(0, region.y0 - margin_y),
                        min(width, region.x1 + margin_x), min(height, region.y1 + margin_y))
        crop = published[around.slices]
        found = nearest_centre(self.detector.detect(crop), crop.shape)
        if found is None:
            return float("inf")
        moved = np.asarray(found.landmarks, np.float64) + (around.x0, around.y0)
        return pose_miss(moved.ravel(), np.asarray(landmarks, np.float64).ravel())

    @staticmethod
    def published_photo(photo: np.ndarray, stand_in: StandIn) -> np.ndarray:
        """A copy of ``photo`` with ``stand_in`` blended in: what a viewer and a recogniser see."""
        published = photo.copy()
        published[stand_in.region.slices] = stand_in.pixels
        return published

    def decoy_styles(self, published: np.ndarray, key: bytes, choice: int = 0) -> np.ndarray:
        """The styles (3, 512) of another synthetic person in the pose of the stored ``published``
        coarse and identity styles (2, 512) -- what a wrong key shows when decoys are asked for.
        The decoy is the wrong key's person of the published person's classes, the nearest to its
        attributes (moved onto them only with ``decoy_transplant_attributes``: two decoys moved onto
        the same coordinates looked alike to ArcFace; no glasses if the published person has none),
        bearded if the published person is (``beard_level``),
        turned to the landmarks the published coarse style gives (a pose edit does not carry over
        from one person to another: reused, it turned the decoy's head away), with its own fine
        style (the photo's encoding is not stored; colour is matched to the photo)."""
        published = np.asarray(published, np.float32)
        candidates = self.candidates(key, self.settings.decoy_truncation, self.style_classes(published[1]),
                                     choice)
        transplant = self.settings.decoy_transplant_attributes
        if self.appearance is None:
            identity = self.nearest_identity(published[1], candidates, transplant)
        else:
            wanted = self.appearance.predict(published[1:2])[0]
            identity = self.matched_identity(wanted, candidates, transplant)
        if self.beard is not None and self.beard.coordinate(published[1]) > self.beard.level_coordinate(
                self.settings.beard_level / 2):   # a bearded published person: bearded decoys
            identity = self.beard.like(identity, published[1])
        if (self.eyewear is not None and self.settings.no_added_eyewear
                and not self.eyewear.worn_by(published[1], self.fit.mean_style)):
            identity = self.eyewear.without_glasses(identity, self.fit.mean_style)
        share = self.settings.coarse_from_photo
        coarse = self.fit.match_pose(share * published[0] + (1 - share) * identity,
                                     self.fit.pose(published[:1])[0])
        if self.mouth is not None:  # the published stand-in's mouth, open or closed
            coarse, identity = self.mouth.like(coarse, published[0]), self.mouth.like(identity, published[1])
        return np.stack([coarse, identity, identity])

    def nearest_identity(self, style: np.ndarray, candidates: np.ndarray, transplant: bool) -> np.ndarray:
        """The candidate person nearest ``style`` along the attribute directions (sex, age,
        colouring); with ``transplant``, moved onto ``style``'s coordinates along them,
        so that the match is exact and needs no search among many candidates (a search among many
        also picks the one most like the target, in the directions that are not attributes too)."""
        target = self.fit.attributes(style[None])
        gap = self.fit.attributes(candidates) - target
        nearest = int(np.argmin((gap ** 2).sum(1)))
        identity = candidates[nearest]
        if transplant:
            identity = identity - gap[nearest] @ self.fit.attribute_basis
        return identity.astype(np.float32)

    def matched_identity(self, wanted: np.ndarray, candidates: np.ndarray, transplant: bool) -> np.ndarray:
        """The candidate person nearest the appearance coordinates ``wanted``; with ``transplant``,
        moved onto them."""
        gap = self.appearance.predict(candidates) - wanted
        identity = candidates[int(np.argmin((gap ** 2).sum(1)))]
        if transplant:
            identity = self.moved_to(identity, wanted)
        return identity.astype(np.float32)

    def moved_to(self, style: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """``style`` moved onto the appearance coordinates ``wanted``, with no step along the
        glasses direction (the eyewear cap stays as it was set)."""
        step = self.appearance.move_to(style, wanted) - style
        if self.eyewear is not None:
            step -= (step @ self.eyewear.direction) * self.eyewear.direction
        return (style + step).astype(np.float32)

    def layer_rows(self) -> list[slice]:
        """The layers each of the (3, 512) styles (coarse, identity, fine) sets."""
        coarse, identity = self.settings.coarse_layers, self.settings.identity_layers
        return [slice(0, coarse), slice(coarse, identity), slice(identity, LAYERS)]

    def layer_styles(self, styles: np.ndarray) -> np.ndarray:
        """(3, 512) -> (LAYERS, 512) per-layer styles."""
        rows = np.empty((LAYERS, STYLE_DIM), np.float32)
        for style, layers in zip(styles, self.layer_rows(), strict=True):
            rows[layers] = style
        return rows

    # -- pixels ----------------------------------------------------------------------------------
    def render(self, styles: np.ndarray) -> np.ndarray:
        """The 512 px face of (3, 512) styles."""
        return self.network.render(self.layer_styles(styles))

    def stand_in(self, photo: np.ndarray, landmarks: np.ndarray, styles: np.ndarray,
                 bbox: Sequence[float] | None = None, decoy: bool = False) -> StandIn | None:
        """Render ``styles`` and blend the face onto ``landmarks`` (5x2) of ``photo`` (read-only);
        None when the render has no detectable face (the caller falls back).

        The pose model and the appearance regression are linear and miss for some people (a head
        turned away where the photo looks ahead, which pastes as a double face; a face lighter or
        more masculine than the coordinates it was moved to): while the render's landmarks are
        more than ``pose_tolerance`` inter-ocular distances from the photo's after the similarity
        alignment, or its demographic coordinates (read from the render's own dlib descriptor)
        more than ``appearance_tolerance`` spreads from the identity's, the styles are corrected
        by what they missed and rendered again (``pose_passes`` times at most); the closest render
        is used, and its styles are what the record keeps."""
        target = self.aligned_pose(landmarks)
        wanted = None if self.appearance is None else self.appearance.predict(styles[1:2])[0]
        best = None
        for attempt in range(self.settings.pose_passes + 1):
            image = self.render(styles)
            found = nearest_centre(self.detector.detect(image), image.shape)
            if found is None:
                break
            measured = self.aligned_pose(found.landmarks)
            miss = pose_miss(measured, target)
            last = attempt == self.settings.pose_passes
            # (the last render is used whatever it reads: no descriptor needed)
            gap = None if wanted is None or last else self.render_coordinates(image, found) - wanted
            appearance_miss = 0.0 if gap is None else float(np.abs(gap).max())
            score = (miss / max(self.settings.pose_tolerance, 1e-6)
                     + appearance_miss / max(self.settings.appearance_tolerance, 1e-6))
            if best is None or score < best[0]:
                best = (score, image, found, styles)
            if (miss <= self.settings.pose_tolerance and appearance_miss <= self.settings.appearance_tolerance
                    or last):
                break
            styles = styles.copy()
            if gap is not None and appearance_miss > self.settings.appearance_tolerance:
                moved = self.moved_to(styles[1], self.appearance.predict(styles[1:2])[0] - gap)
                styles[0] += moved - styles[1]
                styles[1] = moved
            styles[0] = self.fit.match_pose(styles[0], self.fit.pose(styles[:1])[0] + target - measured)
        if best is None:
            return None
        _, image, found, styles = best
        if self.photo_fit is not None and not decoy:
            fitted = self.fitted_to_photo(styles, image, found, photo, landmarks)
            if fitted is not None:
                styles, image, found = fitted
        blended = self.blend(image, photo, landmarks, found, bbox, decoy)
        return None if blended is None else StandIn(blended[0], blended[1], styles)

    def fitted_to_photo(self, styles: np.ndarray, image: np.ndarray, found: Face, photo: np.ndarray,
                        landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, Face] | None:
        """``styles`` with their coarse and fine styles fitted (``fit_steps``) so that the render
        ``image`` (its face ``found``) continues the photo's forehead, hair and cheeks over the
        blend's outer band, its inner face kept (see :mod:`~encryptface.models.stylegan_photo_fit`):
        (styles, their render, its face), or None when the new render has no face."""
        to_render = similarity_transform(np.asarray(landmarks, np.float64),
                                         np.asarray(found.landmarks, np.float64))
        size = (image.shape[1], image.shape[0])
        target = cv2.warpAffine(photo, to_render, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        in_photo = cv2.warpAffine(np.ones(photo.shape[:2], np.float32), to_render, size,
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        inner = inner_face_mask(image.shape[:2], found.landmarks, self.settings)
        band = face_mask(image.shape[:2], found.landmarks, self.settings) * (1.0 - inner) * in_photo
        if self.segmenter is not None:   # the photo's wall or sky is not what the render should show
            band = band * _person_weight(self.segmenter.person(target), 2.0)
        rows = self.layer_rows()
        offsets = self.photo_fit.offsets(self.layer_styles(styles), [rows[i] for i in FITTED_STYLES],
                                         target, band, inner)
        styles = styles.copy()
        styles[list(FITTED_STYLES)] += offsets
        image = self.render(styles)
        found = nearest_centre(self.detector.detect(image), image.shape)
        return None if found is None else (styles, image, found)

    def follow_features(self, face: np.ndarray, image: np.ndarray, render_landmarks: np.ndarray,
                        photo: np.ndarray, landmarks: np.ndarray, region: Region,
                        to_region: np.ndarray) -> np.ndarray:
        """``face`` (the render ``image`` warped by ``to_region`` into ``region`` of ``photo``) bent
        so that its brows, eyes, nose and lips (dlib's 68 points, read in both) move
        ``landmark_warp`` of the way onto the photo's: the similarity warp fits five points, and
        what it leaves is the synthetic face's own proportions, its smile and how far its lips
        part. The jaw line is left alone (it is the head's outline, which carries identity), and
        the movement fades to none at the blend mask's edge. Unchanged when the two readings
        disagree by more than :data:`MAX_FEATURE_MOVE` (a reader lost the face)."""
        ocular = float(np.linalg.norm(np.subtract(landmarks[1], landmarks[0])))
        render_points = self.mouth_reader.points(image, self.shape_box(render_landmarks))
        photo_points = self.mouth_reader.points(photo, self.shape_box(landmarks))
        mapped = render_points @ to_region[:, :2].T + to_region[:, 2]
        targets = (photo_points - (region.x0, region.y0))[FOLLOWED_FEATURES]
        moves = (targets - mapped[FOLLOWED_FEATURES]) * self.settings.landmark_warp
        if np.median(np.linalg.norm(moves, axis=1)) > MAX_FEATURE_MOVE * ocular:
            return face
        centre = np.asarray(landmarks, np.float64).mean(0) - (region.x0, region.y0)
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        anchors = centre + WARP_ANCHOR_RADIUS * ocular * np.stack([np.cos(angles), np.sin(angles)], 1)
        field = displacement_field(face.shape[:2], targets, moves, anchors, WARP_SIGMA * ocular)
        return warp(face, field)

    def shape_box(self, landmarks: np.ndarray) -> Face:
        """The box dlib's 68-point reader is given for a face with ``landmarks`` (5x2) in any
        image: the one it is given in aligned crops (:func:`crop_face`), scaled by the face's size."""
        points = np.asarray(landmarks, np.float64)
        template_ocular = float(np.linalg.norm(self.template[1] - self.template[0]))
        scale = float(np.linalg.norm(points[1] - points[0])) / template_ocular
        return landmark_face(points, DESCRIPTOR_MARGIN * self.crop_size * scale)

    def render_coordinates(self, image: np.ndarray, found: Face) -> np.ndarray:
        """The demographic coordinates (K,) of the face ``found`` in a render, read as a photo's are."""
        aligned = self.align(image, found.landmarks)
        return self.appearance.coordinates(self.describe(aligned, found.landmarks)[None])[0]

    def aligned_pose(self, landmarks: np.ndarray) -> np.ndarray:
        """(10,) landmarks after the similarity alignment to the template, in crop sides (what the
        pose model predicts)."""
        points = np.asarray(landmarks, np.float64)
        matrix = similarity_transform(points, self.template)
        return ((points @ matrix[:, :2].T + matrix[:, 2]).ravel() / self.crop_size).astype(np.float32)

    def blend(self, image: np.ndarray, photo: np.ndarray, landmarks: np.ndarray,
              found: Face | None = None, bbox: Sequence[float] | None = None,
              decoy: bool = False) -> tuple[Region, np.ndarray] | None:
        """The face of ``image`` (``found`` in it, else re-detected) warped onto ``landmarks`` of
        ``photo`` and blended through the inner-face mask (with ``cover_box``, also over the
        detected ``bbox`` grown by ``detection.cover_margin``; outside the inner face, only where
        ``stylegan.person_mask`` allows, ``decoy_person_mask`` for a ``decoy``): (region, its new
        pixels), or None without a face in ``image``. A published face's features follow the
        photo's (``landmark_warp``); a decoy's stay its own person's, and two decoys of one photo,
        bent onto the same features, were judged the same person more often."""
        person_mask = self.settings.decoy_person_mask if decoy else self.settings.person_mask
        found = found or nearest_centre(self.detector.detect(image), image.shape)
        if found is None:
            return None
        to_photo = similarity_transform(np.asarray(found.landmarks, np.float64),
                                        np.asarray(landmarks, np.float64))
        mask = face_mask(image.shape[:2], found.landmarks, self.settings)
        region = _bounds(mask, to_photo, photo.shape)
        ocular = float(np.linalg.norm(np.subtract(landmarks[1], landmarks[0])))
        box = None
        if self.settings.cover_box and bbox is not None and region is not None:
            box = cover_box(bbox, self.cover_margin)
            reach = 2 * max(1.0, self.settings.feather * ocular)   # the box's feather outside it
            x, y, w, h = box
            region = Region(max(0, min(region.x0, int(x - reach))), max(0, min(region.y0, int(y - reach))),
                            min(photo.shape[1], max(region.x1, int(x + w + reach) + 1)),
                            min(photo.shape[0], max(region.y1, int(y + h + reach) + 1)))
        if region is None:
            return None
        width, height = region.x1 - region.x0, region.y1 - region.y0
        render_person = None if person_mask == "off" else self.segmenter.person(image)
        if render_person is not None and person_mask == "fill":
            image = _fill_background(image, _person_weight(render_person, 1.0))
        to_region = to_photo.copy()
        to_region[:, 2] -= (region.x0, region.y0)
        face = cv2.warpAffine(image, to_region, (width, height), flags=cv2.INTER_AREA
                              if to_photo[0, 0] ** 2 + to_photo[0, 1] ** 2 < 1 else cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        if box is not None:
            face = _fill_past_frame(face, image.shape[:2], to_region)
        if self.settings.landmark_warp > 0 and not decoy:
            face = self.follow_features(face, image, found.landmarks, photo, landmarks, region, to_region)
        def to_photo_region(m: np.ndarray) -> np.ndarray:
            return cv2.warpAffine(m, to_region, (width, height), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)

        alpha = to_photo_region(mask)
        skin = to_photo_region(_ellipse(image.shape[:2], found.landmarks, *SKIN, 0.1))
        core = None
        if render_person is not None or self.settings.agreement > 0 or self.settings.halo_levels > 0:
            core = to_photo_region(inner_face_mask(image.shape[:2], found.landmarks, self.settings))
        if render_person is not None:
            # Person masks: the photo's background is never painted over; with "keep", neither is
            # its hair where the render shows its own background (the ring at the head's outline).
            person = _person_weight(self.segmenter.person(photo[region.slices]), max(1.0, 0.05 * ocular))
            if person_mask == "keep":
                person = person * to_photo_region(_person_weight(render_person, 2.0))
            if bbox is not None:
                # The detected box is pasted whatever the segmenter reads: it reads a bystander's
                # or a half-framed face as background, and those faces fell under min_covered.
                person = np.maximum(person, box_alpha(region, bbox, max(1.0, 0.05 * ocular)))
            alpha = alpha * np.maximum(core, person)
        if box is not None:
            alpha = np.maximum(alpha, box_alpha(region, box, self.settings.feather * ocular))
        target = photo[region.slices].astype(np.float32)
        face = transfer_colours(face, colour_stats(face, skin), colour_stats(target, skin), (0.6, 1.6))
        face = _match_detail(face, target, alpha, self.settings.grain)
        if self.settings.poisson:
            face = _poisson(face, target, alpha)
            if self.settings.keep_skin_tone:
                # The solve takes its values from the mask's border (hair, a beard, a light wall),
                # which pulled whole faces lighter or darker than the neck.
                face = face + (colour_stats(target, skin)[0] - colour_stats(face, skin)[0])
        if core is not None:
            if self.settings.agreement > 0:
                alpha = alpha * np.maximum(core, _agreement(face, target, self.settings.agreement, ocular))
            if self.settings.halo_levels > 0:
                halo = self.settings.halo_levels
                alpha = alpha * np.maximum(core, _not_lighter(face, target, halo, ocular))
        blended = alpha[:, :, None] * face + (1.0 - alpha[:, :, None]) * target
        return region, np.clip(blended + 0.5, 0, 255).astype(np.uint8)


# What the photo fit (stylegan.fit_steps) moves: the coarse (pose, head shape) and fine (colour,
# light) styles; the identity style stays the key's person's.
FITTED_STYLES = (0, 2)


# The landmark warp (stylegan.landmark_warp): dlib's brows, nose, eyes and lips (not the jaw line);
# a median move past this many eye distances means a reader lost the face; the field's width and
# where it fades to none, in eye distances (inside the blend mask's edge).
FOLLOWED_FEATURES = slice(17, 68)
MAX_FEATURE_MOVE = 0.25
WARP_SIGMA = 0.2
WARP_ANCHOR_RADIUS = 1.4


# The seam check's band: from this share of the blend ellipse's extent to its edge (the inner part
# is the new face, meant to differ).
SEAM_BAND = 0.6
# Colour is compared over the skin between eyes and mouth (eye-to-mouth distances above the eyes,
# ... below the mouth, half-width in inter-ocular distances): the blend mask reaches hair and
# background at its edge, and their colours (a light wall beside a dark face) pulled the skin tone.
SKIN = (0.3, 0.3, 0.8)


def _ellipse(shape: tuple[int, int], landmarks: np.ndarray, above: float, below: float, width: float,
             feather: float) -> np.ndarray:
    """A feathered ellipse from ``above`` eye-to-mouth distances over the eyes to ``below`` under
    the mouth, ``width`` inter-ocular distances each side, its edge blurred by ``feather`` of them."""
    landmarks = np.asarray(landmarks, np.float64)
    eyes, mouth = landmarks[:2].mean(0), landmarks[3:5].mean(0)
    down = mouth - eyes
    ocular = float(np.linalg.norm(landmarks[1] - landmarks[0]))
    top, bottom = eyes - above * down, mouth + below * down
    centre = (top + bottom) / 2
    axes = (width * ocular, float(np.linalg.norm(bottom - top)) / 2)
    angle = float(np.degrees(np.arctan2(down[1], down[0]))) - 90.0
    mask = np.zeros(shape, np.float32)
    blur = max(1.0, feather * ocular)
    inner = (max(1, int(axes[0] - blur)), max(1, int(axes[1] - blur)))
    cv2.ellipse(mask, (int(round(centre[0])), int(round(centre[1]))), inner, angle, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), blur / 2)


def seam_change(photo: np.ndarray, published: np.ndarray, landmarks: np.ndarray, region: Region,
                settings: StyleGANSettings) -> float:
    """How much the ``published`` photo changed the ring the blend fades over: the mean 8-bit
    CIELAB distance from the photo in ``region``'s part of the band between :data:`SEAM_BAND` of
    the blend ellipse (:func:`face_mask`'s, at the photo's ``landmarks``) and its edge. The
    render's background, hair or a coloured light where the photo's hair, wall or flag was is the
    ring, band or halo a viewer sees at the head's outline."""
    shape = (region.y1 - region.y0, region.x1 - region.x0)
    local = np.asarray(landmarks, np.float64) - (region.x0, region.y0)
    outer = _ellipse(shape, local, settings.mask_above, settings.mask_below, settings.mask_width, 0.05)
    inner = _ellipse(shape, local, SEAM_BAND * settings.mask_above, SEAM_BAND * settings.mask_below,
                     SEAM_BAND * settings.mask_width, 0.05)
    band = (outer > 0.5) & (inner < 0.5)
    if not band.any():
        return 0.0
    before, after = (cv2.cvtColor(np.ascontiguousarray(image[region.slices]), cv2.COLOR_RGB2LAB)
                     .astype(np.float32) for image in (photo, published))
    return float(np.linalg.norm(after - before, axis=2)[band].mean())


def face_mask(shape: tuple[int, int], landmarks: np.ndarray, settings: StyleGANSettings) -> np.ndarray:
    """The feathered inner-face blend mask (hairline to chin, cheek to cheek) in an image of
    ``shape`` whose face has ``landmarks``, faded out towards the image's edges: in a render the
    ellipse reaches past them (the chin side in about half of the renders), and cut off there it
    pasted as a straight seam across the neck or the hair."""
    ocular = float(np.linalg.norm(np.subtract(landmarks[1], landmarks[0])))
    return (_ellipse(shape, landmarks, settings.mask_above, settings.mask_below, settings.mask_width,
                     settings.feather) * _edge_fade(shape, max(1.0, settings.feather * ocular)))


def _fill_past_frame(face: np.ndarray, shape: tuple[int, int], to_region: np.ndarray) -> np.ndarray:
    """``face`` (warped by ``to_region`` from a render of ``shape``) with what lies past the render's
    frame filled in from its inside (OpenCV's inpainting): the box can reach below the render's
    chin and neck, where the frame ends; mirrored there, the render showed a second chin, and
    smeared, streaks."""
    height, width = face.shape[:2]
    outside = cv2.warpAffine(np.ones(shape, np.uint8), to_region, (width, height), flags=cv2.INTER_NEAREST,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0) == 0
    if not outside.any():
        return face
    # a pixel band inside the frame too: the render's outermost rows are the least reliable
    outside = cv2.dilate(outside.astype(np.uint8), np.ones((5, 5), np.uint8))
    filled = cv2.inpaint(np.clip(face + 0.5, 0, 255).astype(np.uint8), outside, 5, cv2.INPAINT_TELEA)
    return np.where(outside[:, :, None] > 0, filled.astype(np.float32), face)


def box_alpha(region: Region, box: Sequence[float], feather: float) -> np.ndarray:
    """The photo's ``box`` (x, y, w, h) as a blend weight over ``region`` of the photo: 1 inside,
    feathered outwards over ``feather`` pixels (annotated faces reach below the chin the ellipse
    ends at: the lower part of a face mask, a beard)."""
    x, y, w, h = box
    blur = max(1.0, feather)
    # grown by the feather so that the box itself stays (nearly) fully replaced
    x0, y0 = int(round(x - blur)) - region.x0, int(round(y - blur)) - region.y0
    x1, y1 = int(round(x + w + blur)) - region.x0, int(round(y + h + blur)) - region.y0
    alpha = np.zeros((region.y1 - region.y0, region.x1 - region.x0), np.float32)
    alpha[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = 1.0
    return cv2.GaussianBlur(alpha, (0, 0), blur / 2)


# The inner face -- brows to chin, cheek to cheek -- as shares of the blend mask's extent: always the
# render's, whatever the agreement (identity lives there).
INNER_FACE = 0.55


def inner_face_mask(shape: tuple[int, int], landmarks: np.ndarray,
                    settings: StyleGANSettings) -> np.ndarray:
    """The feathered inner part of :func:`face_mask` that is always replaced."""
    ocular = float(np.linalg.norm(np.subtract(landmarks[1], landmarks[0])))
    return _ellipse(shape, landmarks, INNER_FACE * settings.mask_above, INNER_FACE * settings.mask_below,
                    INNER_FACE * settings.mask_width + 0.25, settings.feather) * _edge_fade(
                        shape, max(1.0, settings.feather * ocular))


def _agreement(face: np.ndarray, target: np.ndarray, levels: float, ocular: float) -> np.ndarray:
    """Where the (colour-matched) render agrees with the photo, in [0, 1]: 1 where their local
    colours are within about ``levels`` 8-bit levels, falling off beyond. Compared after a blur of
    a fifth of the eye distance (hair strands and noise differ anyway; a light render background
    against dark hair is what shows as a ring), and smoothed the same way."""
    blur = max(1.0, 0.2 * ocular)
    gap = np.linalg.norm(cv2.GaussianBlur(face, (0, 0), blur) - cv2.GaussianBlur(target, (0, 0), blur),
                         axis=2)
    return _falloff(gap, levels, blur)


def _not_lighter(face: np.ndarray, target: np.ndarray, levels: float, ocular: float) -> np.ndarray:
    """Where the (colour-matched) render is not much lighter than the photo, in [0, 1]: 1 where
    its local luminance is at most about ``levels`` 8-bit levels above the photo's, falling off
    beyond. One-sided: the render's light background or blond hair over the photo's darker hair
    is the bright ring at the head's outline; where the render is as dark or darker (hair over
    hair, skin over skin) the render stays, and with it the replaced outline."""
    blur = max(1.0, 0.2 * ocular)
    lighter = np.maximum(cv2.GaussianBlur(face.mean(axis=2), (0, 0), blur)
                         - cv2.GaussianBlur(target.mean(axis=2), (0, 0), blur), 0.0)
    return _falloff(lighter, levels, blur)


def _person_weight(probability: np.ndarray, blur: float) -> np.ndarray:
    """A segmenter's person probability as a paste weight: 0 below 0.25, 1 above 0.75 (the soft
    fringe where a render's background shows through its hair counts as background), smoothed by
    ``blur`` pixels."""
    weight = np.clip((probability - 0.25) / 0.5, 0.0, 1.0).astype(np.float32)
    return cv2.GaussianBlur(weight, (0, 0), blur)


def _fill_background(image: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``image`` (uint8 RGB) where ``weight`` is 1; where it falls to 0, the colours of the nearest
    weighted pixels, spread by a push-pull pyramid (the render's hair continued over its
    background)."""
    levels = []
    # Spread from fully kept pixels only: the fringe's colours are part background.
    count = (weight >= 0.99).astype(np.float32)
    if not count.any():   # no pixel surely a person: nothing to spread
        return image
    total = image.astype(np.float32) * count[:, :, None]
    while min(count.shape) > 1:
        levels.append((total, count))
        total, count = cv2.pyrDown(total), cv2.pyrDown(count)
    filled = total / np.maximum(count, 1e-6)[:, :, None]
    for total, count in reversed(levels):
        coarse = cv2.resize(filled, (count.shape[1], count.shape[0]), interpolation=cv2.INTER_LINEAR)
        own = np.clip(count * 2.0, 0.0, 1.0)[:, :, None]
        filled = own * total / np.maximum(count, 1e-6)[:, :, None] + (1.0 - own) * coarse
    mixed = weight[:, :, None] * image + (1.0 - weight[:, :, None]) * filled
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def _falloff(gap: np.ndarray, levels: float, blur: float) -> np.ndarray:
    """1 where ``gap`` is well under ``levels``, falling off as a Gaussian beyond, smoothed by
    ``blur`` (the weight :func:`_agreement` and :func:`_not_lighter` keep the render by)."""
    return cv2.GaussianBlur(np.exp(-(gap / levels) ** 2).astype(np.float32), (0, 0), blur)


def _edge_fade(shape: tuple[int, int], width: float) -> np.ndarray:
    """1 inside, falling smoothly to 0 over ``width`` pixels at the image's borders."""
    def ramp(length: int) -> np.ndarray:
        distance = np.minimum(np.arange(length), np.arange(length)[::-1]) + 0.5
        t = np.clip(distance / width, 0.0, 1.0)
        return (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    return ramp(shape[0])[:, None] * ramp(shape[1])[None, :]


def pose_miss(measured: np.ndarray, target: np.ndarray) -> float:
    """Largest landmark distance between two aligned (10,) landmark sets, in inter-ocular
    distances of ``target``."""
    gap = (measured - target).reshape(5, 2)
    ocular = float(np.linalg.norm(target[2:4] - target[0:2]))
    return float(np.linalg.norm(gap, axis=1).max() / max(ocular, 1e-6))


def _bounds(mask: np.ndarray, to_photo: np.ndarray, shape: tuple[int, ...]) -> Region | None:
    """The photo rectangle the warped mask covers (None when it is empty or off the photo)."""
    ys, xs = np.nonzero(mask > 1e-3)
    if not len(xs):
        return None
    corners = np.array([[xs.min(), ys.min()], [xs.max() + 1, ys.min()], [xs.min(), ys.max() + 1],
                        [xs.max() + 1, ys.max() + 1]], np.float64)
    mapped = corners @ to_photo[:, :2].T + to_photo[:, 2]
    x0, y0 = np.floor(mapped.min(0)).astype(int) - 1
    x1, y1 = np.ceil(mapped.max(0)).astype(int) + 1
    region = Region(max(0, x0), max(0, y0), min(shape[1], x1), min(shape[0], y1))
    return region if region.x1 > region.x0 and region.y1 > region.y0 else None


# The Poisson solve runs on the mask's core only: its border then lies on skin or hair, not on the
# collar the wider feathered edge reaches (it tinted large faces). Solved on a smaller inner-face
# region instead, ArcFace matched 32 % of 120 tuning faces, not 6 %: the render's outer face, left
# to the colour transfer, keeps more of the photo's identity.
POISSON_CORE = 0.6
GRAIN_SIZE = 0.5  # blur of the grain, in pixels of the photo
_BLURS = (0.0, 0.5, 0.8, 1.1, 1.5, 2.0, 2.7, 3.5)


def _detail(image: np.ndarray, weights: np.ndarray) -> float:
    """Fine detail: the weighted spread of the grey image minus its 1 px Gaussian blur."""
    grey = image.mean(axis=2)
    return float(np.sqrt((((grey - cv2.GaussianBlur(grey, (0, 0), 1.0)) ** 2) * weights).sum()))


def _match_detail(face: np.ndarray, target: np.ndarray, alpha: np.ndarray, grain: float) -> np.ndarray:
    """Blur ``face`` until its fine detail inside ``alpha`` is no more than the photo's: a
    rendered face is sharper than most archive photos (focus, compression), and a sharp face on a
    soft photo is the first thing a person notices. Where the render is smoother than the photo
    (skin texture, sensor noise and compression the generator does not draw), luminance grain
    makes up ``grain`` of the missing detail (its variance)."""
    weights = alpha / max(float(alpha.sum()), 1e-6)
    wanted = _detail(target, weights)
    for sigma in _BLURS:
        blurred = face if sigma == 0 else cv2.GaussianBlur(face, (0, 0), sigma)
        detail = _detail(blurred, weights)
        if detail <= wanted:
            break
    if grain <= 0 or detail >= wanted:
        return blurred
    noise = _grain(face.shape[:2], hashlib.sha256(face.tobytes()).digest())
    scale = np.sqrt(grain * (wanted ** 2 - detail ** 2)) / max(_detail(noise, weights), 1e-6)
    return blurred + scale * noise


def _grain(shape: tuple[int, int], seed: bytes) -> np.ndarray:
    """Luminance noise (H, W, 3) softened to the size of a JPEG photo's grain, seeded by the stand-in
    it goes on: the same stand-in always gets the same grain, and two stand-ins of one photo do not
    share a pattern (a shared one made recognisers call two decoys the same person)."""
    rng = np.random.default_rng(int.from_bytes(seed[:8], "little"))
    noise = rng.standard_normal(shape).astype(np.float32)
    return np.repeat(cv2.GaussianBlur(noise, (0, 0), GRAIN_SIZE)[:, :, None], 3, axis=2)


def _poisson(face: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``face`` re-lit by Poisson blending (OpenCV's seamless clone) inside the mask: its gradients,
    the photo's values at the mask border, so the light and colour run on without a seam."""
    inside = (alpha > POISSON_CORE).astype(np.uint8) * 255
    inside[[0, -1], :] = 0
    inside[:, [0, -1]] = 0
    ys, xs = np.nonzero(inside)
    if len(xs) < 16:
        return face
    centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    source = np.clip(face + 0.5, 0, 255).astype(np.uint8)
    cloned = cv2.seamlessClone(source, np.clip(target + 0.5, 0, 255).astype(np.uint8), inside, centre,
                               cv2.NORMAL_CLONE)
    return cloned.astype(np.float32)
