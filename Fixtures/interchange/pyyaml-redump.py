# Loads an export.yaml with PyYAML and dumps it again as Rubin's exporter would (same tags, sort_keys=False).
# ExportYAMLTests compares the result with what our writer wrote: the two must be the same bytes.
import sys, yaml, uuid
class T(str): pass
class E(str): pass
class TS(dict): pass
class R(dict): pass
L = yaml.SafeLoader
L.add_constructor('!uuid', lambda l, n: uuid.UUID(l.construct_scalar(n)))
L.add_constructor('!butler_time/tai/iso', lambda l, n: T(l.construct_scalar(n)))
def ts(l, n):
    if isinstance(n, yaml.ScalarNode): return E(l.construct_scalar(n))
    return TS(l.construct_mapping(n))
L.add_constructor('!lsst.daf.butler.Timespan', ts)
L.add_multi_constructor('lsst.sphgeom.', lambda l, s, n: (s, R(l.construct_mapping(n))))
d = yaml.load(open(sys.argv[1]), Loader=L)
D = yaml.Dumper
D.add_representer(uuid.UUID, lambda d, v: d.represent_scalar('!uuid', str(v)))
D.add_representer(T, lambda d, v: d.represent_scalar('!butler_time/tai/iso', str(v)))
D.add_representer(E, lambda d, v: d.represent_scalar('!lsst.daf.butler.Timespan', str(v)))
D.add_representer(TS, lambda d, v: d.represent_mapping('!lsst.daf.butler.Timespan', dict(v)))
def fix(o):
    if isinstance(o, tuple): return RR(o[0], o[1])
    if isinstance(o, TS): return TS({k: fix(v) for k, v in o.items()})
    if isinstance(o, dict): return {k: fix(v) for k, v in o.items()}
    if isinstance(o, list): return [fix(x) for x in o]
    return o
class RR:
    def __init__(s, kind, m): s.kind, s.m = kind, m
D.add_representer(RR, lambda d, v: d.represent_mapping('lsst.sphgeom.' + v.kind, v.m))
sys.stdout.write(yaml.dump(fix(d), Dumper=D, sort_keys=False))
