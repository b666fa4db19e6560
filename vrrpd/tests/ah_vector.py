import hmac, hashlib, struct
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b))
    while s>0xffff: s=(s&0xffff)+(s>>16)
    return (~s)&0xffff
vrrp=bytearray([0x21,51,100,1,2,1,0,0,198,51,100,10]+[0]*8)
vrrp[6:8]=struct.pack('!H',csum(bytes(vrrp)))
src=bytes([192,0,2,1]); dst=bytes([224,0,0,18])
ip=bytearray(struct.pack('!BBHHHBBH4s4s',0x45,0xc0,20+24+len(vrrp),7,0,255,51,0,src,dst))
ah=bytearray(struct.pack('!BBH4sI12s',112,4,0,src,42,b'\0'*12))
z=bytearray(ip); z[1]=0; z[6:8]=b'\0\0'; z[10:12]=b'\0\0'
key=b'secret'.ljust(8,b'\0')
icv=hmac.new(key,bytes(z)+bytes(ah)+bytes(vrrp),hashlib.md5).digest()[:12]
ah[12:24]=icv
ip[10:12]=struct.pack('!H',csum(bytes(ip)))
print('vrrp csum', vrrp[6:8].hex()); print('icv', ', '.join('0x%02x'%x for x in icv)); print('ipcsum', ip[10:12].hex())
