"""Dispatch charts: a PNG (matplotlib, Agg backend) and a self-contained interactive HTML.

Both show stacked electricity supply against load (charging, export and the process drawn
below zero), the battery state of charge, and the grid price with carbon intensity.
The HTML embeds the series as JSON and draws them with a few lines of plain JavaScript
(SVG, hover read-out, legend toggles): no network access, no external library.
O(steps x series).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd

mpl.use("Agg")
import matplotlib.pyplot as plt

from zone_opt.optimise.dispatch.results import DispatchResult

__all__ = ["write_html", "write_png"]


def _supply(result: DispatchResult) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Positive (supply) and negative (extra demand) electricity series, MW."""
    ts, park = result.timeseries, result.park
    pos: dict[str, np.ndarray] = {}
    neg: dict[str, np.ndarray] = {}
    for r in park.renewables:
        pos[r.name] = ts[f"{r.name}.output_mw"].to_numpy()
    for c in park.chps:
        pos[c.name] = ts[f"{c.name}.electric_mw"].to_numpy()
    for b in park.batteries:
        pos[f"{b.name} discharge"] = ts[f"{b.name}.discharge_mw"].to_numpy()
        neg[f"{b.name} charge"] = -ts[f"{b.name}.charge_mw"].to_numpy()
    pos["grid import"] = ts["grid.import_mw"].to_numpy()
    pos["unserved"] = ts["unserved.electricity_mw"].to_numpy()
    neg["grid export"] = -ts["grid.export_mw"].to_numpy()
    for p in park.processes:
        neg[p.name] = -ts[f"{p.name}.power_mw"].to_numpy()
    return pos, neg


def write_png(result: DispatchResult, path: str | Path, *, dpi: int = 110) -> Path:
    """Write the three-panel dispatch chart to ``path`` (PNG)."""
    ts = result.timeseries
    x = ts.index
    pos, neg = _supply(result)
    fig, axes = plt.subplots(
        3, 1, figsize=(12, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1]}
    )
    ax = axes[0]
    ax.stackplot(x, *pos.values(), labels=list(pos), step="post", alpha=0.85)
    ax.stackplot(x, *neg.values(), labels=list(neg), step="post", alpha=0.6)
    ax.step(x, ts["load_mw"], where="post", color="black", lw=1.2, label="load")
    ax.set_ylabel("electricity (MW)")
    ax.set_title(f"{result.park.name}: {result.objective_cny:,.0f} CNY ({result.status})")
    ax.legend(loc="upper left", ncol=4, fontsize=7)
    ax.axhline(0, color="grey", lw=0.5)
    for b in result.park.batteries:
        axes[1].plot(x, ts[f"{b.name}.soc_mwh"], label=f"{b.name} SoC")
    axes[1].set_ylabel("SoC (MWh)")
    axes[1].legend(loc="upper left", fontsize=7)
    axes[2].step(x, ts["price_cny_per_mwh"], where="post", color="tab:red", label="price")
    axes[2].set_ylabel("price (CNY/MWh)")
    twin = axes[2].twinx()
    twin.plot(x, ts["intensity_t_per_mwh"], color="tab:green", label="carbon intensity")
    twin.set_ylabel("tCO2/MWh")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>body{font:13px sans-serif;margin:16px}svg{background:#fff}
#tip{font:12px monospace;white-space:pre;position:fixed;background:#fffe;
border:1px solid #999;padding:4px;display:none}.lg span{cursor:pointer;margin-right:10px}
.off{opacity:.3}</style></head><body>
<h3>__TITLE__</h3><div class="lg" id="lg"></div><svg id="c" width="1100" height="620"></svg>
<div id="tip"></div>
<script>
const D=__DATA__;
const W=1100,L=60,R=60,pan=[[10,360],[380,480],[500,600]];
const svg=document.getElementById('c'),tip=document.getElementById('tip'),n=D.time.length;
const on={};
Object.keys(D.pos).concat(Object.keys(D.neg)).forEach(k=>on[k]=true);
const col=i=>'hsl('+(i*47%360)+',60%,55%)';
function el(t,a){
  const e=document.createElementNS('http://www.w3.org/2000/svg',t);
  for(const k in a)e.setAttribute(k,a[k]);
  svg.appendChild(e);return e}
const X=i=>L+(W-L-R)*i/Math.max(1,n);
function line(s,pi,color,label){
  const a=Math.min(...s),b=Math.max(...s)||1;
  const Yp=v=>pan[pi][1]-(v-a)/((b-a)||1)*(pan[pi][1]-pan[pi][0]);
  let q='';s.forEach((v,i)=>q+=(i?'L':'M')+X(i)+','+Yp(v));
  el('path',{d:q,fill:'none',stroke:color});
  el('text',{x:4,y:pan[pi][0]+10,fill:color}).textContent=label+' '+b.toFixed(2)}
function draw(){
  svg.innerHTML='';let lo=0,hi=1;
  const up=new Array(n).fill(0),dn=new Array(n).fill(0);
  const ks=Object.keys(D.pos),kn=Object.keys(D.neg);
  for(let i=0;i<n;i++){
    let a=0,b=0;
    ks.forEach(k=>{if(on[k])a+=D.pos[k][i]});
    kn.forEach(k=>{if(on[k])b+=D.neg[k][i]});
    hi=Math.max(hi,a,D.load[i]);lo=Math.min(lo,b)}
  const Y=v=>pan[0][1]-(v-lo)/(hi-lo)*(pan[0][1]-pan[0][0]);
  function band(keys,acc,neg){
    keys.forEach((k,j)=>{
      if(!on[k])return;
      const s=D[neg?'neg':'pos'][k];let p='';
      for(let i=0;i<n;i++){
        const y=Y(acc[i]+s[i]);p+=(i?'L':'M')+X(i)+','+y+'L'+X(i+1)+','+y}
      for(let i=n-1;i>=0;i--){p+='L'+X(i+1)+','+Y(acc[i])+'L'+X(i)+','+Y(acc[i])}
      for(let i=0;i<n;i++)acc[i]+=s[i];
      el('path',{d:p+'Z',fill:col(j+(neg?20:0)),opacity:.8})})}
  band(ks,up,false);band(kn,dn,true);
  let p='';
  for(let i=0;i<n;i++)p+=(i?'L':'M')+X(i)+','+Y(D.load[i])+'L'+X(i+1)+','+Y(D.load[i]);
  el('path',{d:p,fill:'none',stroke:'#000','stroke-width':1.5});
  el('text',{x:4,y:pan[0][0]+10}).textContent=hi.toFixed(0)+' MW';
  el('text',{x:4,y:pan[0][1]}).textContent=lo.toFixed(0);
  Object.keys(D.soc).forEach(k=>line(D.soc[k],1,'#36c',k+' SoC MWh'));
  line(D.price,2,'#c33','price CNY/MWh');line(D.ci,2,'#393','')}
const lg=document.getElementById('lg');
Object.keys(on).forEach(k=>{
  const s=document.createElement('span');s.textContent='\\u25A0 '+k;
  s.onclick=()=>{on[k]=!on[k];s.className=on[k]?'':'off';draw()};lg.appendChild(s)});
svg.onmousemove=e=>{
  const r=svg.getBoundingClientRect(),i=Math.floor((e.clientX-r.left-L)/(W-L-R)*n);
  if(i<0||i>=n){tip.style.display='none';return}
  let t=D.time[i]+'\\nload '+D.load[i].toFixed(2)+' MW';
  for(const k in D.pos)t+='\\n'+k+' '+D.pos[k][i].toFixed(2);
  for(const k in D.neg)t+='\\n'+k+' '+D.neg[k][i].toFixed(2);
  for(const k in D.soc)t+='\\n'+k+' SoC '+D.soc[k][i].toFixed(2);
  t+='\\nprice '+D.price[i].toFixed(1)+'\\nCI '+D.ci[i].toFixed(3);
  tip.textContent=t;tip.style.display='block';
  tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px'};
svg.onmouseleave=()=>tip.style.display='none';
draw();
</script></body></html>
"""


def write_html(result: DispatchResult, path: str | Path) -> Path:
    """Write a self-contained interactive chart (no external resources) to ``path``."""
    ts = result.timeseries
    pos, neg = _supply(result)

    def r(a: np.ndarray) -> list[float]:
        return [round(float(v), 4) for v in a]

    data = {
        "time": [str(t) for t in pd.DatetimeIndex(ts.index)],
        "load": r(ts["load_mw"].to_numpy()),
        "pos": {k: r(v) for k, v in pos.items()},
        "neg": {k: r(v) for k, v in neg.items()},
        "soc": {b.name: r(ts[f"{b.name}.soc_mwh"].to_numpy()) for b in result.park.batteries},
        "price": r(ts["price_cny_per_mwh"].to_numpy()),
        "ci": r(ts["intensity_t_per_mwh"].to_numpy()),
    }
    title = f"{result.park.name}: {result.objective_cny:,.0f} CNY ({result.status})"
    html = _HTML.replace("__TITLE__", title).replace("__DATA__", json.dumps(data))
    out = Path(path)
    out.write_text(html, encoding="utf-8")
    return out
