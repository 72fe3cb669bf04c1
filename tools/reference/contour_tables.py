"""cv2.findContours(RETR_TREE, CHAIN_APPROX_NONE) results of a stack of masks, in the fixtures' layout:
a table (mask, contour, point count, next, previous, first child, parent), areas, and all points."""
import cv2
import numpy as np


def contour_tables(masks):
    table, areas, points = [], [], []
    for index, mask in enumerate(masks):
        contours, hierarchy = cv2.findContours(mask.copy(), cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)
        for c, contour in enumerate(contours):
            h = hierarchy[0][c]
            table.append([index, c, len(contour), h[0], h[1], h[2], h[3]])
            areas.append(cv2.contourArea(contour))
            points.extend(contour.reshape(-1, 2).tolist())
    return (np.array(table, dtype="<i2").reshape(-1, 7), np.array(areas, dtype="<f8"),
            np.array(points, dtype="<i2").reshape(-1, 2))
