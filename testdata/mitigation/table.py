#!/usr/bin/env python3
# The mitigation table of the README (issue 14). Usage: DEJA=path/to/deja DEJA_SYNTH=synth-folder DEJA_REPO=checkout
#   python3 table.py SET-METHOD[:LIMIT] ...   (each a `deja mitigate --out` folder named SET-METHOD; LIMIT keeps prompt indices < LIMIT)
# For each folder it runs `deja replicate --images` and `deja judge eval --images` once (FOLDER.measured/) and prints one row:
# replication by L2 < 0.1 and by SSIM > 0.8 (any of the n images), median nearest L2, mean caption fidelity,
# mean anisotropy after, median seconds per prompt, with 95 % percentile-bootstrap CIs over captions (1,000 resamples, seed 0).
# Aggregates mitigate folders: replicate.jsonl (per caption), judge verdicts (per image), mitigate.jsonl (per image row)
import json, sys, os, random, statistics, subprocess
import os
D=os.environ.get('DEJA','deja')
SYNTH=os.environ.get('DEJA_SYNTH','synth')
REPO=os.environ.get('DEJA_REPO','.')
def run(cmd): subprocess.run(cmd, shell=True, check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def load(p): return [json.loads(l) for l in open(p) if l.strip()]
def ci(vals, stat, B=1000, seed=0):
    rnd=random.Random(seed); n=len(vals); bs=[]
    for _ in range(B):
        s=[vals[rnd.randrange(n)] for _ in range(n)]; bs.append(stat(s))
    bs.sort(); return bs[int(0.025*B)], bs[int(0.975*B)-1]
mean=lambda v: sum(v)/len(v)
def summarize(folder, limit=None):
    folder=os.path.abspath(folder); rep=folder.rstrip('/')+'.measured'; ver=rep+'.verdicts.jsonl'
    if not os.path.exists(rep+'/replicate.jsonl'):
        run(f'rm -rf {rep}; {D} replicate --images {folder} --data {SYNTH} --out {rep}')
    if not os.path.exists(ver):
        run(f'{D} judge eval --judge data/models/deja-judge --synthetic 0 --memorized 0 --heldout 0 --images {folder} --model data/models/deja-mini --benchmark data/benchmarks/deja-mini --verdicts {ver}')
    reps={r['caption']:r for r in load(rep+'/replicate.jsonl')}
    rows=load(folder+'/mitigate.jsonl'); verd={}
    for v in load(ver): verd[os.path.basename(v['image'])]=v['fidelity']
    caps={}
    if limit is not None: rows=[r for r in rows if r['index']<limit]
    for r in rows:
        c=caps.setdefault(r['index'],{'prompt':r['prompt'],'fid':[],'after':[],'sec':r['seconds'],'conv':[]})
        c['fid'].append(verd[os.path.basename(r['image'])]); c['after'].append(r.get('score_after')); c['conv'].append(r.get('stop_criterion_met'))
    out=[]
    for i,c in sorted(caps.items()):
        rr=reps[c['prompt']]
        out.append(dict(l2=1.0 if rr['replicated_l2'] else 0.0, ssim=1.0 if rr['replicated_ssim'] else 0.0, minl2=rr['min_l2'],
            fid=mean(c['fid']), after=mean([a for a in c['after'] if a is not None]) if any(a is not None for a in c['after']) else float('nan'), sec=c['sec'],
            notconv=sum(1 for x in c['conv'] if x is False)))
    return out
def fmt(vals, stat, pct=True, dig=3):
    v=stat(vals); lo,hi=ci(vals,stat)
    return f"{100*v:.0f} % [{100*lo:.0f}, {100*hi:.0f}]" if pct else f"{v:.{dig}f} [{lo:.{dig}f}, {hi:.{dig}f}]"
if __name__=='__main__':
    print('| captions | method | n | replicated, L2 < 0.1 | replicated, SSIM > 0.8 | median nearest L2 | caption fidelity | anisotropy after | s / prompt |')
    print('|---|---|---|---|---|---|---|---|---|')
    for folder in sys.argv[1:]:
        limit=None
        if ':' in folder: folder,limit=folder.split(':'); limit=int(limit)
        name=os.path.basename(folder.rstrip('/')); s=summarize(folder,limit)
        sset,meth=name.split('-',1)
        print(f"| {sset} | {meth} | {len(s)} | {fmt([x['l2'] for x in s],mean)} | {fmt([x['ssim'] for x in s],mean)} | {fmt([x['minl2'] for x in s],statistics.median,False)} | {fmt([x['fid'] for x in s],mean)} | {mean([x['after'] for x in s]):.2f} | {statistics.median([x['sec'] for x in s]):.1f} |")
