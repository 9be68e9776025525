"""Independent answers for the sky-region tests (SkyRegionTests): astropy's WCS and Rubin's sphgeom.

Reads a JSON task from stdin and writes the answers as JSON to stdout:

  pointings   [{ra, dec, rotation}]: each detector's corners (focal-plane mm, from "detectors") go through a
              gnomonic (TAN) WCS with CRVAL = the pointing and CD = scale * [[-cos r, sin r], [sin r, cos r]]
              (+y at the rotation angle east of north, +x 90 degrees further west), as our FocalPlane documents.
              Answers: "corners" (RA/Dec of each corner) and "inside": for each test point, the ids of the
              detectors whose rectangle holds it, found by mapping the point back to the focal plane.
  htm_points  [[ra, dec]]: sphgeom's HtmPixelization(htm_level).index of each.
  regions     [hex]: sphgeom's decoding of our encodings (vertices) and its HTM envelope (pixels).
  healpix     {level, points: [[ra, dec]], pixels: [p]}: hpgeom's nested pixel of each point ("healpix_index") and
              points along each pixel's boundary ("healpix_boundaries", [[ra, dec]]).
  wcs         [{crval: [ra, dec], crpix: [x, y] (0-based), scale (arcsec), projection, pixels: [[x, y]]}]: astropy's
              RA/Dec of each pixel position ("wcs_world"), with CD = [[-s, 0], [0, s]] as Rubin's skymaps make it.
  relations   [{polygon: hex, circle: [ra, dec, radius] | point: [ra, dec] | box: [ra, dec, w, h] | other: hex}]:
              whether sphgeom says the two are disjoint ("disjoint": true/false, or null when sphgeom cannot tell).
"""

import json
import sys

import numpy as np
from astropy.wcs import WCS

import hpgeom
import lsst.sphgeom as sg


def wcs_for(pointing, plate_scale):
    r = np.radians(pointing["rotation"])
    s = plate_scale / 3600.0
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [pointing["ra"], pointing["dec"]]
    w.wcs.crpix = [1.0, 1.0]  # pixel (0, 0) with origin 0 is the boresight
    w.wcs.cd = s * np.array([[-np.cos(r), np.sin(r)], [np.sin(r), np.cos(r)]])
    w.wcs.set()
    return w


def vector(ra, dec):
    return sg.UnitVector3d(sg.LonLat.fromDegrees(ra, dec))


def main():
    task = json.load(sys.stdin)
    out = {}
    detectors = task.get("detectors", [])
    corners_out, inside_out = [], []
    for pointing in task.get("pointings", []):
        w = wcs_for(pointing, task["plate_scale"])
        corners = []
        for d in detectors:
            xy = np.array(d["corners"], dtype=float)
            world = w.wcs_pix2world(xy, 0)
            corners.append([[float(a) % 360.0, float(b)] for a, b in world])
        corners_out.append(corners)
        inside = []
        for ra, dec in pointing.get("points", []):
            x, y = w.wcs_world2pix(np.array([[ra, dec]]), 0)[0]
            holders = []
            for d in detectors:
                xs = [c[0] for c in d["corners"]]
                ys = [c[1] for c in d["corners"]]
                if min(xs) <= x <= max(xs) and min(ys) <= y <= max(ys):
                    holders.append(d["id"])
            inside.append(holders)
        inside_out.append(inside)
    out["corners"] = corners_out
    out["inside"] = inside_out

    level = task.get("htm_level", 7)
    pixelization = sg.HtmPixelization(level)
    out["htm_index"] = [pixelization.index(vector(ra, dec)) for ra, dec in task.get("htm_points", [])]
    decoded, envelopes = [], []
    for hex_text in task.get("regions", []):
        region = sg.Region.decode(bytes.fromhex(hex_text))
        decoded.append([[float(v.x()), float(v.y()), float(v.z())] for v in region.getVertices()])
        pixels = []
        for begin, end in pixelization.envelope(region):
            pixels.extend(range(begin, end))
        envelopes.append(pixels)
    out["decoded"] = decoded
    out["envelopes"] = envelopes

    healpix = task.get("healpix")
    if healpix:
        nside = 2 ** healpix["level"]
        points = np.array(healpix["points"], dtype=float).reshape(-1, 2)
        out["healpix_index"] = [int(p) for p in hpgeom.angle_to_pixel(nside, points[:, 0], points[:, 1], nest=True, lonlat=True)]
        boundaries = []
        for pixel in healpix["pixels"]:
            lon, lat = hpgeom.boundaries(nside, pixel, step=4, nest=True, lonlat=True)
            boundaries.append([[float(a), float(b)] for a, b in zip(np.ravel(lon), np.ravel(lat))])
        out["healpix_boundaries"] = boundaries

    worlds = []
    for item in task.get("wcs", []):
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---" + item["projection"], "DEC--" + item["projection"]]
        w.wcs.crval = item["crval"]
        w.wcs.crpix = [item["crpix"][0] + 1, item["crpix"][1] + 1]
        s = item["scale"] / 3600.0
        w.wcs.cd = np.array([[-s, 0.0], [0.0, s]])
        w.wcs.set()
        world = w.wcs_pix2world(np.array(item["pixels"], dtype=float), 0)
        worlds.append([[float(a) % 360.0, float(b)] for a, b in world])
    out["wcs_world"] = worlds

    relations = []
    for item in task.get("relations", []):
        polygon = sg.Region.decode(bytes.fromhex(item["polygon"]))
        if "circle" in item:
            ra, dec, radius = item["circle"]
            other = sg.Circle(vector(ra, dec), sg.Angle.fromDegrees(radius))
        elif "point" in item:
            ra, dec = item["point"]
            relations.append({"disjoint": not polygon.contains(vector(ra, dec))})
            continue
        elif "box" in item:
            ra, dec, width, height = item["box"]
            other = sg.Box(sg.LonLat.fromDegrees(ra, dec), sg.Angle.fromDegrees(width / 2), sg.Angle.fromDegrees(height / 2))
        else:
            other = sg.Region.decode(bytes.fromhex(item["other"]))
        relation = polygon.relate(other)
        if relation & sg.DISJOINT:
            relations.append({"disjoint": True})
        elif relation & (sg.CONTAINS | sg.WITHIN):
            relations.append({"disjoint": False})
        else:
            # sphgeom says "may intersect": a shared point settles it, else it cannot tell.
            relations.append({"disjoint": False if polygon.overlaps(other) else None})
    out["relations"] = relations
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
