# Positions/s (work per repeat / median seconds) of each worker run, per round: python3 sum.py worker/*
import json,glob,statistics,sys,os
for d in sys.argv[1:]:
    print("==", d)
    rows={}
    for f in sorted(glob.glob(d+"/*.json")):
        j=json.load(open(f)); b,r=os.path.basename(f)[:-5].split("-")
        rows.setdefault(r,{})[b]=j["workPerRepeat"]/statistics.median(j["seconds"])
    for r in sorted(rows):
        x=rows[r]; print(r, {k:round(v) for k,v in x.items()}, "main/base %.3f"%(x.get("main",0)/x["base"]) if "base" in x and "main" in x else "")
