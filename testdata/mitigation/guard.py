#!/usr/bin/env python3
# Usage: DEJA_RUNS=folder-of-mitigate-runs DEJA_NEGATIVES=detect-n4.jsonl python3 guard.py [prompt]
# Guard trade-off: at thresholds calibrated on the 225 held-out captions (n=4, index seeds 0), which verbatim
# captions are flagged (score_before on their own generations' noise), their replication, and held-out fidelity.
import json, sys
import os; sys.path.insert(0,os.path.dirname(os.path.abspath(__file__))); from table import summarize, load
neg=sorted((r['scores']['anisotropy'] if 'scores' in r else r['anisotropy']) for r in load(os.environ.get('DEJA_NEGATIVES','negatives-n4.jsonl')))
N=len(neg)
def thr(f):
    k=int(f*N+1e-9); return neg[N-1-k]
def per(folder):
    rows=load(folder+'/mitigate.jsonl'); sc={}
    for r in rows: sc[r['index']]=r['score_before']
    return [sc[i] for i in sorted(sc)]
RUNS=os.environ.get('DEJA_RUNS','.')
sets={'verbatim':RUNS+'/verbatim','heldout20':RUNS+'/heldout20','template10':RUNS+'/template10'}
mit=sys.argv[1] if len(sys.argv)>1 else 'prompt'
data={}
for s,p in sets.items():
    try: data[s]=(per(p+'-none'), summarize(p+'-none'), summarize(p+'-'+mit))
    except Exception as e: print('skip',s,e)
print(f'| guard threshold (FPR on 225 held-out) | verbatim flagged | verbatim replicated L2 | template flagged | template replicated L2 | held-out flagged | held-out fidelity |')
print('|---|---|---|---|---|---|---|')
for f in [0.0, 0.01,0.05,0.1,0.2,0.5,1.0]:
    t=-1e9 if f>=1 else thr(f)
    cells=[]
    for s in ['verbatim','template10','heldout20']:
        if s not in data: cells += ['—','—']; continue
        sc,none,m=data[s]; fl=[x>t for x in sc]
        if s=='heldout20':
            fid=sum((m[i] if fl[i] else none[i])['fid'] for i in range(len(sc)))/len(sc)
            cells += [f'{sum(fl)}/{len(sc)}', f'{100*fid:.1f} %']
        else:
            rep=sum((m[i] if fl[i] else none[i])['l2'] for i in range(len(sc)))/len(sc)
            cells += [f'{sum(fl)}/{len(sc)}', f'{100*rep:.0f} %']
    label='off (mitigate all)' if f>=1 else (f'{t:.3f} ({100*f:.0f} %)' if f>0 else f'{t:.3f} (0 %)')
    print(f'| {label} | '+' | '.join(cells)+' |')
